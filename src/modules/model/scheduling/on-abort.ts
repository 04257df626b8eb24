/**
 * Calls `listener` once if `signal` fires; the returned function stops listening (call it once the
 * wait is over, so a long-lived signal does not keep the listener).
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  signal?.addEventListener('abort', listener, { once: true });
  return () => signal?.removeEventListener('abort', listener);
}
