import { Gauge, Registry } from 'prom-client';
import { memoryLimit, readCgroupMemoryLimit } from '../../runtime/memory-limit.js';

/**
 * `duet_memory_limit_bytes{source}`: what anonymous memory + swap may reach, read at each scrape
 * (a cgroup limit can change at run time). No sample at all when there is no limit, so an alert
 * comparing memory with it stays quiet instead of comparing with 0.
 */
export function registerMemoryLimitGauge(
  registry: Registry,
  anonSwapCeilingBytes: number,
  readCgroup: () => number | undefined = readCgroupMemoryLimit,
): void {
  new Gauge({
    name: 'duet_memory_limit_bytes',
    help: 'The lower of the cgroup memory limit (source="cgroup") and READY_MAX_ANON_SWAP_MB (source="ready_max_anon_swap"); absent when neither is set',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      const limit = memoryLimit(anonSwapCeilingBytes, readCgroup());
      if (limit) this.set({ source: limit.source }, limit.bytes);
    },
  });
}
