/**
 * Waits for every promise, then rethrows the first failure: unlike Promise.all, nothing is still
 * running on a sequence when the caller goes on to release it.
 */
export async function settleAll(promises: Promise<void>[]): Promise<void> {
  const failure = (await Promise.allSettled(promises)).find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
}
