/**
 * Deletes every key under `prefix` (SCAN + UNLINK), so a bench leaves nothing behind. Keys are
 * scanned as Buffers, as test/helpers.ts `dropPrefix` does: a key that is not valid UTF-8 would
 * come back from `scan` as a different string and survive.
 */
export async function unlinkPrefix(redis, prefix) {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000)
    if (keys.length) await redis.unlink(...keys)
    cursor = String(next)
  } while (cursor !== '0')
}
