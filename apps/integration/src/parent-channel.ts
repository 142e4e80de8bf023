/**
 * A producer process's messages to its parent. The parent may be gone (a second Ctrl-C or
 * SIGTERM makes it exit at once, while its producer processes still settle their rows): a
 * plain `process.send()` then raises ERR_IPC_CHANNEL_CLOSED or EPIPE as an 'error' event on
 * `process`, which nothing handles, and the process dies printing a stack trace. Sent with a
 * callback, the failure goes to the callback instead.
 */

/** Sends `message` if the parent is still there; resolves whether it was sent. */
export function sendToParent(message: unknown): Promise<boolean> {
  if (process.send === undefined || !process.connected) return Promise.resolve(false)
  return new Promise((resolve) => {
    process.send!(message, undefined, {}, (err) => resolve(err === null || err === undefined))
  })
}

/** Calls `onGone` once the channel to the parent closes (the parent exited or was killed). */
export function onParentGone(onGone: () => void): void {
  if (process.send === undefined) return
  if (!process.connected) onGone()
  else process.once('disconnect', onGone)
}
