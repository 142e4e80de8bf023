/**
 * Sets `key` on `target` as an own, enumerable property. `target[key] = value` with the key
 * "__proto__" (a column name `defineSchema` accepts, a key `JSON.parse` keeps) runs
 * Object.prototype's setter instead: it replaces the object's prototype, or does nothing for
 * a primitive, and the value is gone from `Object.keys()` and from whatever reads the object
 * as columns (Kysely's `values()` wrote such a column as DEFAULT).
 */
export function setOwnProperty(target: object, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  else (target as Record<string, unknown>)[key] = value
}
