import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { memoryLimit, readCgroupMemoryLimit } from './memory-limit.js';

const MIB = 1048576;

/** A fake /proc/self/cgroup and /sys/fs/cgroup: `files` maps paths under the cgroup root to contents. */
function cgroups(procCgroup: string, files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'duet-memcg-'));
  const root = join(dir, 'cgroup');
  mkdirSync(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  writeFileSync(join(dir, 'proc-cgroup'), procCgroup);
  return { procCgroup: join(dir, 'proc-cgroup'), root };
}

describe('readCgroupMemoryLimit', () => {
  it("reads cgroup v2 memory.max of the process's own cgroup, as systemd's MemoryMax= sets it", () => {
    const paths = cgroups('0::/system.slice/duet.service\n', {
      'system.slice/duet.service/memory.max': `${1500 * MIB}\n`,
      'system.slice/memory.max': 'max\n',
    });
    expect(readCgroupMemoryLimit(paths)).toBe(1500 * MIB);
  });

  it('takes the lowest limit on the way up: a slice or pod limit binds too', () => {
    const paths = cgroups('0::/kubepods/pod1/c1\n', {
      'kubepods/pod1/c1/memory.max': 'max\n',
      'kubepods/pod1/memory.max': `${1200 * MIB}\n`,
      'kubepods/memory.max': `${8000 * MIB}\n`,
    });
    expect(readCgroupMemoryLimit(paths)).toBe(1200 * MIB);
  });

  it("reads a container's own cgroup at the root when /proc names a path that is not mounted", () => {
    expect(readCgroupMemoryLimit(cgroups('0::/\n', { 'memory.max': `${1500 * MIB}\n` }))).toBe(1500 * MIB);
    expect(readCgroupMemoryLimit(cgroups('0::/host/path\n', { 'memory.max': `${900 * MIB}\n` }))).toBe(900 * MIB);
  });

  it('falls back to cgroup v1 memory.limit_in_bytes, whose "unlimited" is no limit', () => {
    const hybrid = '4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n';
    const limited = cgroups(hybrid, { 'memory/docker/abc/memory.limit_in_bytes': `${1024 * MIB}\n` });
    expect(readCgroupMemoryLimit(limited)).toBe(1024 * MIB);
    const unlimited = cgroups(hybrid, { 'memory/docker/abc/memory.limit_in_bytes': '9223372036854771712\n' });
    expect(readCgroupMemoryLimit(unlimited)).toBeUndefined();
  });

  it('finds no limit in "max", in missing files, or without /proc/self/cgroup', () => {
    expect(readCgroupMemoryLimit(cgroups('0::/\n', { 'memory.max': 'max\n' }))).toBeUndefined();
    expect(readCgroupMemoryLimit(cgroups('0::/\n', {}))).toBeUndefined();
    expect(readCgroupMemoryLimit({ procCgroup: '/nonexistent/cgroup', root: '/nonexistent' })).toBeUndefined();
  });
});

describe('memoryLimit', () => {
  it('is the lower of the cgroup limit and the READY_MAX_ANON_SWAP_MB ceiling, naming which', () => {
    expect(memoryLimit(1100 * MIB, 1500 * MIB)).toEqual({ bytes: 1100 * MIB, source: 'ready_max_anon_swap' });
    expect(memoryLimit(1100 * MIB, 800 * MIB)).toEqual({ bytes: 800 * MIB, source: 'cgroup' });
    expect(memoryLimit(0, 1500 * MIB)).toEqual({ bytes: 1500 * MIB, source: 'cgroup' });
    expect(memoryLimit(1100 * MIB, undefined)).toEqual({ bytes: 1100 * MIB, source: 'ready_max_anon_swap' });
  });

  it('is undefined with neither (READY_MAX_ANON_SWAP_MB=0 and no cgroup limit)', () => {
    expect(memoryLimit(0, undefined)).toBeUndefined();
  });
});
