/** The longest delay Node's timers take (2^31 - 1 ms); past it a timer fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1
