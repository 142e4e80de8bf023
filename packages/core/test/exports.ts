// Test-only access to internals alongside the public API.
export * from '../src/index.js'
export { KeyOrderGate as KeyOrderGateForTest } from '../src/key-order.js'
