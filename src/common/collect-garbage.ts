const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A full V8 collection when the process runs with --expose-gc, then two event-loop turns so the
 * native finalizers it queued have run: node-llama-cpp frees a sampler's 1.8 MiB candidate buffer
 * (vocabulary size x 12 bytes, one sampler per evaluation) only in its finalizer, not on dispose.
 */
export async function collectGarbage(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  await nextTurn();
  await nextTurn();
  return true;
}
