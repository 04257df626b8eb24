import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where a memory limit came from: the kernel's cgroup limit, or the READY_MAX_ANON_SWAP_MB ceiling. */
export type MemoryLimitSource = 'cgroup' | 'ready_max_anon_swap';

export interface MemoryLimit {
  bytes: number;
  source: MemoryLimitSource;
}

export interface CgroupPaths {
  /** This process's cgroup membership, one `id:controllers:path` line per hierarchy. */
  procCgroup: string;
  /** Where the cgroup hierarchies are mounted. */
  root: string;
}

const SYSTEM: CgroupPaths = { procCgroup: '/proc/self/cgroup', root: '/sys/fs/cgroup' };

/** cgroup v1 writes "no limit" as the largest page-aligned count (9223372036854771712 on x86-64). */
const V1_UNLIMITED = 2 ** 62;

const readText = (path: string) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** A limit file's value in bytes; undefined for `max` (v2), v1's "unlimited" and anything unreadable. */
function limitBytes(path: string): number | undefined {
  const text = readText(path);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const bytes = Number(text);
  return bytes < V1_UNLIMITED ? bytes : undefined;
}

/**
 * The lowest limit on `file` from the process's own cgroup up to the hierarchy's root: a limit on
 * a parent (a systemd slice, a pod) binds the process as much as its own. Directories that do not
 * exist are passed over: inside a container /proc/self/cgroup may name the host's path while the
 * container's own cgroup is mounted at the root.
 */
function lowestOnPath(mount: string, cgroupPath: string, file: string): number | undefined {
  let lowest: number | undefined;
  for (let dir = join(mount, cgroupPath); ; dir = dirname(dir)) {
    const bytes = existsSync(dir) ? limitBytes(join(dir, file)) : undefined;
    if (bytes !== undefined) lowest = Math.min(lowest ?? bytes, bytes);
    if (dir === mount || !dir.startsWith(`${mount}/`)) return lowest;
  }
}

/**
 * The memory limit the kernel enforces on this process: cgroup v2 `memory.max`, else cgroup v1
 * `memory.limit_in_bytes`; undefined when there is none (`max`, v1's unlimited, no cgroup files).
 */
export function readCgroupMemoryLimit(paths: CgroupPaths = SYSTEM): number | undefined {
  const lines = (readText(paths.procCgroup) ?? '').split('\n').map((line) => line.split(':'));
  const unified = lines.find(([id, controllers]) => id === '0' && controllers === '');
  const v2 = unified && lowestOnPath(paths.root, unified.slice(2).join(':'), 'memory.max');
  if (v2 !== undefined) return v2;
  const v1 = lines.find(([, controllers]) => controllers?.split(',').includes('memory'));
  return v1 && lowestOnPath(join(paths.root, 'memory'), v1.slice(2).join(':'), 'memory.limit_in_bytes');
}

/**
 * What anonymous memory + swap may reach before something gives: the lower of the cgroup limit
 * (beyond it the kernel kills the process) and the READY_MAX_ANON_SWAP_MB ceiling (beyond it
 * readiness fails), `anonSwapCeilingBytes` 0 meaning no ceiling. Undefined when neither is set.
 */
export function memoryLimit(
  anonSwapCeilingBytes: number,
  cgroupBytes = readCgroupMemoryLimit(),
): MemoryLimit | undefined {
  const ceiling = anonSwapCeilingBytes > 0 ? anonSwapCeilingBytes : undefined;
  if (cgroupBytes !== undefined && (ceiling === undefined || cgroupBytes < ceiling))
    return { bytes: cgroupBytes, source: 'cgroup' };
  return ceiling === undefined ? undefined : { bytes: ceiling, source: 'ready_max_anon_swap' };
}
