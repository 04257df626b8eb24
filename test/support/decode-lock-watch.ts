import type { TestApp } from './test-app.js';

/** Records, per decode-lock grant, what else held the lock at the same time. */
export function watchDecodeLock(t: TestApp) {
  const lock = t.scheduler.decodeLock;
  const seen = { exclusive: 0, shared: 0, overlapsWithExclusive: 0, maxConcurrentShared: 0 };
  let heldExclusive = 0;
  let heldShared = 0;
  const wrap = (kind: 'exclusive' | 'shared') => {
    const acquire = lock[kind].bind(lock);
    lock[kind] = async () => {
      const release = await acquire();
      if (kind === 'exclusive') {
        seen.exclusive++;
        if (heldExclusive + heldShared > 0) seen.overlapsWithExclusive++;
        heldExclusive++;
      } else {
        seen.shared++;
        if (heldExclusive > 0) seen.overlapsWithExclusive++;
        seen.maxConcurrentShared = Math.max(seen.maxConcurrentShared, ++heldShared);
      }
      return () => {
        if (kind === 'exclusive') heldExclusive--;
        else heldShared--;
        release();
      };
    };
  };
  wrap('exclusive');
  wrap('shared');
  return seen;
}
