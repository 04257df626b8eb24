import { Registry } from 'prom-client';
import { registerMemoryLimitGauge } from './memory-limit.gauge.js';

const MIB = 1048576;
const samples = async (registry: Registry) =>
  (await registry.metrics()).split('\n').filter((line) => line.startsWith('duet_memory_limit_bytes'));

describe('duet_memory_limit_bytes', () => {
  it('follows the cgroup limit from scrape to scrape, and has no sample without any limit', async () => {
    let cgroup: number | undefined = 1500 * MIB;
    const registry = new Registry();
    registerMemoryLimitGauge(registry, 1100 * MIB, () => cgroup);
    expect(await samples(registry)).toEqual([`duet_memory_limit_bytes{source="ready_max_anon_swap"} ${1100 * MIB}`]);
    cgroup = 800 * MIB; // systemctl set-property duet MemoryMax=800M
    expect(await samples(registry)).toEqual([`duet_memory_limit_bytes{source="cgroup"} ${800 * MIB}`]);

    const unlimited = new Registry();
    registerMemoryLimitGauge(unlimited, 0, () => undefined);
    expect(await samples(unlimited)).toEqual([]);
  });
});
