/** A place in a `WaitQueue`, kept by whoever may have to leave it early. */
export interface WaitNode<T> {
  readonly value: T
  prev: WaitNode<T> | undefined
  next: WaitNode<T> | undefined
  queued: boolean
}

/**
 * The submits waiting for room in the buffer, first come first served. Why a linked list and
 * not an array: `shift()` copies the whole array, so once a caller fired submits without
 * awaiting them (each one waits once the buffer is full) admitting them was quadratic:
 * 200,000 of them took 45 s, with the event loop blocked for seconds at a time. A waiter
 * whose signal aborts leaves from the middle, also without a search.
 */
export class WaitQueue<T> {
  private head: WaitNode<T> | undefined
  private tail: WaitNode<T> | undefined
  private count = 0

  get size(): number {
    return this.count
  }

  push(value: T): WaitNode<T> {
    const node: WaitNode<T> = { value, prev: this.tail, next: undefined, queued: true }
    if (this.tail === undefined) this.head = node
    else this.tail.next = node
    this.tail = node
    this.count++
    return node
  }

  /** The oldest waiter's place (leave it with `remove()`: it may have left meanwhile). */
  first(): WaitNode<T> | undefined {
    return this.head
  }

  /** Takes `node` out wherever it is; false if it had already left. */
  remove(node: WaitNode<T>): boolean {
    if (!node.queued) return false
    node.queued = false
    if (node.prev === undefined) this.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) this.tail = node.prev
    else node.next.prev = node.prev
    node.prev = node.next = undefined
    this.count--
    return true
  }

  /** Empties the queue, oldest first. */
  drain(): T[] {
    const all: T[] = []
    for (let node = this.head; node !== undefined; node = node.next) {
      node.queued = false
      all.push(node.value)
    }
    this.head = this.tail = undefined
    this.count = 0
    return all
  }
}
