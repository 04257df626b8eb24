import { startTestApp } from '../support/test-app.js';

describe('periodic memory snapshots', () => {
  it('log one JSON line per interval with the stability figures', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const t = await startTestApp({ LOG_LEVEL: 'info', MEMORY_SNAPSHOT_INTERVAL_S: '1' }, { logLines: lines });
    try {
      await t.post('/v1/sentiment', { text: 'one' });
      await new Promise((resolve) => setTimeout(resolve, 2300));
    } finally {
      await t.close();
    }
    const elapsedS = (Date.now() - started) / 1000;
    const snapshots = lines.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'memory_snapshot');
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(snapshots.length).toBeLessThanOrEqual(Math.floor(elapsedS));
    expect(snapshots[snapshots.length - 1]).toMatchObject({
      requests: { '/v1/sentiment': 1 },
      activeSequences: 0,
      queueLength: 0,
    });
    for (const key of [
      'timestamp',
      'uptimeS',
      'rssBytes',
      'rssAnonBytes',
      'swapBytes',
      'heapUsedBytes',
      'heapTotalBytes',
      'externalBytes',
      'arrayBuffersBytes',
    ]) {
      expect(snapshots[0]).toHaveProperty(key);
    }
  });

  it('are off with MEMORY_SNAPSHOT_INTERVAL_S=0', async () => {
    const lines: string[] = [];
    const t = await startTestApp({ LOG_LEVEL: 'info', MEMORY_SNAPSHOT_INTERVAL_S: '0' }, { logLines: lines });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await t.close();
    expect(lines.some((line) => line.includes('memory_snapshot'))).toBe(false);
  });
});
