import type { RedisArg } from './commands.js'

// Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its {hash tag}, modulo 16384.
// Written here rather than imported: it runs once per command on the hot path and the
// package ioredis uses for it (cluster-key-slot) ships no types.
const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let c = i << 8
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
  TABLE[i] = c
}

function crc16(b: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b[i]!) & 0xff]!
  return crc
}

/** The cluster slot (0..16383) of a key. */
export function keySlot(key: RedisArg): number {
  const b = Buffer.isBuffer(key) ? key : Buffer.from(String(key))
  const open = b.indexOf(0x7b) // {
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1) // }
    if (close > open + 1) return crc16(b, open + 1, close) & 16383
  }
  return crc16(b, 0, b.length) & 16383
}
