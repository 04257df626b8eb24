import { execFileSync } from 'node:child_process';
import { mallocTrim, mallocTrimAvailable } from './malloc-trim.js';

/**
 * Runs in a process of its own: in jest's shared one, other suites' idle trims and collections
 * move RSS while the test reads it. 64 MiB of 4 KiB native allocations (under glibc's mmap
 * threshold, so on the heap), then one more that stays alive above them: glibc trims a heap's top
 * on its own, never its inside. Prints RssAnon (MiB) before, after free() and after the trim.
 */
const FREED_INSIDE_THE_HEAP = `
  const { createRequire } = require('node:module');
  const { readFileSync } = require('node:fs');
  const { mallocTrim } = createRequire(process.cwd() + '/')('@duet/malloc-trim');
  const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
  mallocTrim();
  const before = anon();
  let blocks = Array.from({ length: 16384 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
  const pin = Buffer.allocUnsafeSlow(4096).fill(1);
  const allocated = process.memoryUsage().arrayBuffers;
  blocks = undefined;
  (async () => {
    for (let tries = 0; process.memoryUsage().arrayBuffers > allocated - 60 * 1048576 && tries < 50; tries++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const freed = anon();
    const released = mallocTrim();
    console.log(JSON.stringify({ before, freed, trimmed: anon(), released, pinned: pin[0] }));
  })();
`;

describe('mallocTrim', () => {
  it('is built here: npm install compiles native/malloc-trim on glibc Linux with a compiler', () => {
    expect(mallocTrimAvailable()).toBe(true);
    expect(typeof mallocTrim()).toBe('boolean');
  });

  it('returns freed pages inside the heap to the OS, which free() alone does not', () => {
    const output = execFileSync(process.execPath, ['--expose-gc', '-e', FREED_INSIDE_THE_HEAP], { encoding: 'utf8' });
    const { before, freed, trimmed, released, pinned } = JSON.parse(output) as Record<string, number | boolean>;
    expect(freed).toBeGreaterThan((before as number) + 48); // freed, but still resident
    expect(released).toBe(true);
    expect(trimmed).toBeLessThan((freed as number) - 48);
    expect(pinned).toBe(1);
  });
});
