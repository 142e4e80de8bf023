import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  // A class that refers to itself is renamed by the bundler (`_BatchFailedError`): keep the
  // names users see in `err.name`, stack traces and logs.
  keepNames: true,
})
