import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuQuota } from './cpu-quota.js';

const cpuMax = (content: string) => {
  const path = join(mkdtempSync(join(tmpdir(), 'duet-cg-')), 'cpu.max');
  writeFileSync(path, content);
  return path;
};

describe('cpuQuota', () => {
  it('uses the cgroup quota when it is below the core count', () => {
    expect(cpuQuota(cpuMax('200000 100000\n'), 16)).toBe(2);
    expect(cpuQuota(cpuMax('150000 100000\n'), 16)).toBe(1);
  });

  it('never returns less than one or more than the cores', () => {
    expect(cpuQuota(cpuMax('50000 100000\n'), 16)).toBe(1);
    expect(cpuQuota(cpuMax('800000 100000\n'), 4)).toBe(4);
  });

  it('falls back to the cores without a quota or without cgroup v2', () => {
    expect(cpuQuota(cpuMax('max 100000\n'), 6)).toBe(6);
    expect(cpuQuota('/nonexistent/cpu.max', 3)).toBe(3);
  });
});
