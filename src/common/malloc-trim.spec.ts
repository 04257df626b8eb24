import { readFileSync } from 'node:fs';
import { collectGarbage } from './collect-garbage.js';
import { mallocTrim, mallocTrimAvailable } from './malloc-trim.js';

const rssAnonMiB = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const arrayBuffersMiB = () => process.memoryUsage().arrayBuffers / 1048576;

describe('mallocTrim', () => {
  it('is built here: npm install compiles native/malloc-trim on glibc Linux with a compiler', () => {
    expect(mallocTrimAvailable()).toBe(true);
  });

  it('returns freed pages inside the heap to the OS, which free() alone does not', async () => {
    // 64 MiB of 4 KiB native allocations (under glibc's mmap threshold, so on the heap), then one
    // more that stays alive above them: glibc trims a heap's top on its own, never its inside.
    mallocTrim(); // what earlier tests freed would otherwise be reused below, not mapped anew
    const before = rssAnonMiB();
    let blocks: Buffer[] | undefined = Array.from({ length: 16384 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
    const pin = Buffer.allocUnsafeSlow(4096).fill(1);
    const allocated = arrayBuffersMiB();
    blocks = undefined;
    for (let tries = 0; arrayBuffersMiB() > allocated - 60 && tries < 50; tries++) {
      await collectGarbage();
    }
    expect(arrayBuffersMiB()).toBeLessThan(allocated - 60);

    const freedButResident = rssAnonMiB();
    expect(freedButResident).toBeGreaterThan(before + 48);
    expect(mallocTrim()).toBe(true);
    expect(rssAnonMiB()).toBeLessThan(freedButResident - 48);
    expect(pin[0]).toBe(1);
    expect(blocks).toBeUndefined();
  });
});
