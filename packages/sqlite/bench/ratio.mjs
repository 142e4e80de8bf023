/** Shared by the SQLite benches: how a set of per-round ratios is summarised. */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** `0.93x (0.81–1.02)`: the median, then the lowest and the highest. */
export const ratio = (xs) =>
  `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
