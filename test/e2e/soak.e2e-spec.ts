import { spawnSync } from 'node:child_process';
import { startServerProcess } from '../support/server-process.js';
import { floorOf, runSoak, slope } from '../../scripts/lib/soak.js';
import { shortenTexts, soakRequest } from '../../scripts/lib/soak-traffic.js';
import { TINY_MODEL } from '../support/test-app.js';

describe('soak (short version on the tiny model)', () => {
  it('fits the memory slope by least squares, with its standard error', () => {
    expect(
      slope([
        { x: 0, y: 10 },
        { x: 1, y: 12 },
        { x: 2, y: 14 },
      ]),
    ).toEqual({ slope: 2, standardError: 0 });
    expect(
      slope([
        { x: 0, y: 5 },
        { x: 1, y: 5 },
      ]),
    ).toEqual({ slope: 0, standardError: 0 });
    const noisy = slope([0, 2, 0, 2].map((y, x) => ({ x, y })));
    expect(noisy.slope).toBeCloseTo(0.4);
    expect(noisy.standardError).toBeCloseTo(Math.sqrt(0.32));
  });

  it('fits the floor under allocator spikes, which still follows a real leak', () => {
    const spiky = [0, 30, 0, 0, 0, 0, 25, 0, 0, 0, 0, 0].map((spike, x) => ({ x, y: 200 + spike }));
    expect(slope(spiky).slope).not.toBe(0);
    expect(floorOf(spiky, 4).map((p) => p.y)).toEqual([200, 200, 200, 200]);
    const leaking = spiky.map((p) => ({ x: p.x, y: p.y + 3 * p.x }));
    expect(slope(floorOf(leaking, 4)).slope).toBeCloseTo(3);
  });

  it('shortens texts by characters, not UTF-16 units, and caps chat replies only when asked', () => {
    expect(shortenTexts(['😀😀😀 great', '送餐很快，味道也不错。', 'ok'], 3)).toEqual(['😀😀😀', '送餐很', 'ok']);
    const chatBody = (chatMaxChars?: number) =>
      JSON.parse(soakRequest(10, ['hi'], { maxBodyBytes: 100, chatMaxChars }).body) as { maxChars?: number };
    expect(soakRequest(10, ['hi'], { maxBodyBytes: 100 }).kind).toBe('chat');
    expect(chatBody().maxChars).toBeUndefined();
    expect(chatBody(8).maxChars).toBe(8);
  });

  it('serves ~1,500 mixed requests with no 5xx, every bad request its 4xx, and no memory growth; too few readings are no pass', async () => {
    const server = await startServerProcess(
      TINY_MODEL,
      { MEMORY_SNAPSHOT_INTERVAL_S: '0', LOG_LEVEL: 'warn', MAX_BODY_BYTES: '65536' },
      ['--expose-gc'],
    );
    const traced: Array<Record<string, unknown>> = [];
    try {
      const report = await runSoak({
        url: server.url,
        concurrency: 4,
        maxRequests: Number(process.env.SOAK_N ?? 1500),
        durationMs: 540_000,
        warmupFraction: 0.2,
        sampleEvery: 50,
        // A leak of the size seen in other servers (1-12 MiB per request) is 1,000-12,000 MiB per 1,000
        // requests; this run is too short to resolve the production bound (1 KiB), so it checks 64 MiB.
        maxSlopeKiBPer1000: 64 * 1024,
        maxBodyBytes: 65536,
        onSample: (snapshot) => traced.push(snapshot),
      });
      expect(report.unexpected).toEqual({});
      expect(report.serverErrors).toBe(0);
      expect(report.requests).toBe(Number(process.env.SOAK_N ?? 1500));
      for (const status of ['200', '400', '413', '415', 'aborted']) expect(report.byStatus[status]).toBeGreaterThan(0);
      expect(report.memory.samples).toBeGreaterThan(10);
      expect(traced).toHaveLength(1 + Math.floor(report.requests / 50) + 1); // at the start, every 50 requests, at the end
      expect(
        traced.every(
          (snapshot) => typeof snapshot.heapTotalBytes === 'number' && typeof snapshot.requests === 'number',
        ),
      ).toBe(true);
      expect(report.memory.busySequencesAtSamples).toBe(0); // memory is read between requests, not during them
      expect(report.memory.slopeStandardErrorKiB).toBeGreaterThan(0);
      expect(report.memory.slopeKiBPer1000).toBeLessThanOrEqual(64 * 1024);
      expect(report.pass).toBe(true);
      expect(report.verdict).toBe('pass');
      expect(report.memory.slopeInterval95KiB[1]).toBeLessThan(64 * 1024);
      // Too short to sample after warm-up (readings at the start and the end only): no slope, no pass.
      const unsampled = await runSoak({
        url: server.url,
        concurrency: 2,
        maxRequests: 8,
        durationMs: 60_000,
        warmupFraction: 0.2,
        sampleEvery: 100,
        maxSlopeKiBPer1000: 64 * 1024,
        maxBodyBytes: 65536,
      });
      expect({ pass: unsampled.pass, samples: unsampled.memory.samples, unexpected: unsampled.unexpected }).toEqual({
        pass: false,
        samples: 1,
        unexpected: {},
      });
      // Inconclusive, not failed: one reading per floor window takes 10 × 100 / (1 - 0.2) requests.
      expect({ verdict: unsampled.verdict, toDecide: unsampled.memory.toDecide?.requests }).toEqual({
        verdict: 'inconclusive',
        toDecide: 1250,
      });
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      expect({
        code: exit.code,
        log: exit.code === 0 ? [] : server.stdout.slice(-3),
        stderr: server.stderr.join(''),
      }).toEqual({ code: 0, log: [], stderr: '' });
    }
  }, 600_000);

  it('refuses --node-options with --url: the flags would silently not apply to a server it did not start', () => {
    // Port 9 (discard) on loopback: were the flags ignored and the soak run, it would fail to connect instead.
    const cli = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/soak.ts', '--url', 'http://127.0.0.1:9', '--node-options=--no-opt'],
      { encoding: 'utf8' },
    );
    expect({ status: cli.status, stdout: cli.stdout, stderr: cli.stderr.trim() }).toEqual({
      status: 2,
      stdout: '',
      stderr: 'soak: --node-options applies to the server the soak starts, not to one at --url',
    });
  }, 60_000);

  it('refuses a malformed number before starting anything', () => {
    const refused = [
      ['concurrency', 'abc', 'a whole number of at least 1'],
      ['warmup', '1', 'a fraction from 0 up to (not including) 1'],
      ['text-chars', '0', 'a whole number of at least 1'],
      ['chat-max-chars', 'abc', 'a whole number of at least 1'],
    ];
    for (const [flag, value, kind] of refused) {
      const cli = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'scripts/soak.ts', '--url', 'http://127.0.0.1:9', `--${flag}=${value}`],
        { encoding: 'utf8' },
      );
      expect({ status: cli.status, stdout: cli.stdout, stderr: cli.stderr.trim() }).toEqual({
        status: 2,
        stdout: '',
        stderr: `soak: --${flag} must be ${kind}, got "${value}"`,
      });
    }
  }, 60_000);
});
