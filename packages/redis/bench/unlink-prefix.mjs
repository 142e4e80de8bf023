/** Deletes every key under `prefix` (SCAN + UNLINK), so a bench leaves nothing behind. */
export async function unlinkPrefix(redis, prefix) {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000)
    if (keys.length) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}
