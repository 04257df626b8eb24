import { serverPerSuite } from '../support/suite-server.js';

const rssAnonMiB = async (url: string) =>
  ((await (await fetch(`${url}/health/memory`)).json()) as { rssAnonBytes: number }).rssAnonBytes / 1048576;

const batch = (url: string, round: number) =>
  fetch(`${url}/v1/sentiment/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ items: Array.from({ length: 64 }, (_, i) => ({ text: `item ${round} ${i} was fine` })) }),
  }).then((response) => response.status);

// Each evaluation's sampler holds 1.8 MiB of native memory until V8 collects it. Started without
// --expose-gc, as in production: before the service collected young garbage itself, three batches
// of 64 left ~290 MiB behind until the next collection. Short texts: little JavaScript garbage, so
// V8 alone would not collect for a long time.
describe('sampler memory (server process, no --expose-gc)', () => {
  const server = serverPerSuite({ MEMORY_SNAPSHOT_INTERVAL_S: '0', LOG_LEVEL: 'warn' });

  it('does not pile up across back-to-back batches', async () => {
    expect(await batch(server().url, 0)).toBe(200);
    const before = await rssAnonMiB(server().url);
    for (let round = 1; round <= 3; round++) expect(await batch(server().url, round)).toBe(200);
    expect(await rssAnonMiB(server().url)).toBeLessThan(before + 64);
  });
});
