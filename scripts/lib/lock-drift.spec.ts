import { lockDrift, type PackageLock } from './lock-drift.js';

const lock = (packages: PackageLock['packages']): PackageLock => ({ packages });
const root = { name: 'duet', dependencies: { a: '^1.0.0' } };
const a = { version: '1.0.0', integrity: 'sha512-a' };
const foreignBinding = { version: '2.0.0', optional: true, os: ['darwin'] };
const nothingInstalled = () => false;

describe('lockDrift (CI lock check)', () => {
  it('accepts an identical lock', () => {
    const committed = lock({ '': root, 'node_modules/a': a });
    expect(lockDrift(committed, structuredClone(committed), nothingInstalled)).toEqual([]);
  });

  it('ignores optional entries the registry added or dropped that are not installed here', () => {
    const committed = lock({ '': root, 'node_modules/a': a, 'node_modules/b-win32': foreignBinding });
    const written = lock({ '': root, 'node_modules/a': a, 'node_modules/b-darwin': foreignBinding });
    expect(lockDrift(committed, written, nothingInstalled)).toEqual([]);
  });

  it('reports an optional entry that was installed but is not in the committed lock', () => {
    const written = lock({ '': root, 'node_modules/b-linux': foreignBinding });
    const installed = (path: string) => path === 'node_modules/b-linux';
    expect(lockDrift(lock({ '': root }), written, installed)).toEqual(['node_modules/b-linux: added']);
  });

  it('reports changed versions, declared dependencies and non-optional additions or removals', () => {
    const committed = lock({ '': root, 'node_modules/a': a, 'node_modules/gone': a });
    const written = lock({
      '': { ...root, dependencies: { a: '^1.0.0', c: '^3.0.0' } },
      'node_modules/a': { ...a, version: '1.0.1' },
      'node_modules/c': { version: '3.0.0' },
    });
    expect(lockDrift(committed, written, nothingInstalled).sort()).toEqual([
      '(root): changed',
      'node_modules/a: changed',
      'node_modules/c: added',
      'node_modules/gone: removed',
    ]);
  });
});
