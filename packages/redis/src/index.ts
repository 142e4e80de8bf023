export {
  classifyRedisError,
  ForeignTransactionError,
  isConnectionError,
  isReplyError,
} from './classify.js'
export type { CommandSpec, RedisArg, RedisCommand } from './commands.js'
export type { RedisBatchSQLConfig } from './factory.js'
export { createRedisBatchSQL } from './factory.js'
export type { RedisClient, RedisProcessorOptions } from './processor.js'
export { RedisProcessor } from './processor.js'
export type { KeyOptions, KeyRow, Ttl } from './schemas.js'
export { redisSchemas, SUPPORTED_COMMANDS } from './schemas.js'
export { keySlot } from './slot.js'
