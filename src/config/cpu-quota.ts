import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPUs this process may actually use: the cgroup v2 `cpu.max` quota when one is set, else the
 * available cores: llama.cpp with more threads than this runs many times slower
 * (docs/benchmark-runs.md#measurements-behind-constants).
 */
export function cpuQuota(cpuMaxPath = '/sys/fs/cgroup/cpu.max', cores = availableParallelism()): number {
  try {
    const [quota, period] = readFileSync(cpuMaxPath, 'utf8').trim().split(/\s+/);
    if (quota !== 'max' && Number(period) > 0) {
      return Math.max(1, Math.min(cores, Math.floor(Number(quota) / Number(period))));
    }
  } catch {
    // No cgroup v2 CPU controller here: the core count is the limit.
  }
  return cores;
}
