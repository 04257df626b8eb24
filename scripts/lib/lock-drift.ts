/** The part of a package-lock.json v3 this check reads. */
export interface PackageLock {
  packages: Record<string, { optional?: boolean } & Record<string, unknown>>;
}

/**
 * How the lock `npm install` just wrote differs from the committed one, ignoring only entries that
 * are optional, in one lock alone, and not installed here: other platforms' prebuilt binaries,
 * which come and go with what the registry lists that day (it answered three different sets of
 * `@unrs/resolver-binding-*` in one afternoon). Everything installed must be exactly as committed.
 */
export function lockDrift(
  committed: PackageLock,
  written: PackageLock,
  isInstalled: (path: string) => boolean,
): string[] {
  const drift: string[] = [];
  const paths = new Set([...Object.keys(committed.packages), ...Object.keys(written.packages)]);
  for (const path of paths) {
    const before = committed.packages[path];
    const after = written.packages[path];
    const name = path || '(root)';
    if (before && after) {
      if (JSON.stringify(before) !== JSON.stringify(after)) drift.push(`${name}: changed`);
    } else if (!(before ?? after).optional || isInstalled(path)) {
      drift.push(`${name}: ${before ? 'removed' : 'added'}`);
    }
  }
  return drift;
}
