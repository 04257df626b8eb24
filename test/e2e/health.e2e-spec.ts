import v8 from 'node:v8';
import { readCgroupMemoryLimit } from '../../src/runtime/memory-limit.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });

describe('health, memory and metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      SEQUENCES: '1',
      MAX_QUEUE: '0',
      CHAT_MAX_TOKENS: '256',
      CHAT_MAX_CHARS: '2000',
      READY_MAX_ANON_SWAP_MB: '100000',
    });
  });
  afterAll(() => t.close());

  it('ready reports model, queue and memory indicators with their details', async () => {
    const res = await t.get('/health/ready');
    expect(res.statusCode).toBe(200);
    const { details } = res.json();
    expect(details.model).toMatchObject({ status: 'up', state: 'ready', sequences: 1, maxQueue: 0 });
    expect(details.queue).toMatchObject({ status: 'up', queued: 0, busySequences: 0 });
    expect(details.memory.status).toBe('up');
    expect(details.memory.rss.mib).toBeGreaterThan(10);
    expect(details.memory.anonSwap.ceilingMib).toBe(100000);
    expect(details.memory.rss.ceilingMib).toBeNull();
  });

  it('answers 503 with Retry-After at once when the queue is full, and readiness says so meanwhile', async () => {
    const long = t.post('/v1/chat', { messages: [user('tell me everything')], maxChars: 2000 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const [refused, ready] = await Promise.all([t.post('/v1/sentiment', { text: 'hello' }), t.get('/health/ready')]);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/); // whole seconds, from the work ahead
    expect(refused.json().message).toMatch(/requests are already waiting; retry shortly/);
    expect(ready.statusCode).toBe(503);
    expect(ready.json().error.queue).toMatchObject({ status: 'down', busySequences: 1, maxQueue: 0 });
    expect((await long).statusCode).toBe(200);
    expect((await t.post('/v1/sentiment', { text: 'hello' })).statusCode).toBe(200);
  });

  it('serves a memory snapshot on demand', async () => {
    await t.post('/v1/sentiment', { text: 'count me' });
    const res = await t.get('/health/memory');
    expect(res.statusCode).toBe(200);
    const snapshot = res.json();
    for (const field of [
      'rssBytes',
      'rssAnonBytes',
      'swapBytes',
      'heapUsedBytes',
      'heapTotalBytes',
      'externalBytes',
      'arrayBuffersBytes',
    ]) {
      expect(typeof snapshot[field]).toBe('number');
    }
    expect(snapshot.rssAnonBytes).toBeGreaterThan(0);
    expect(snapshot.requests['/v1/sentiment']).toBeGreaterThanOrEqual(1);
    expect(snapshot).toMatchObject({ activeSequences: 0, queueLength: 0 });
    expect(Date.parse(snapshot.timestamp)).not.toBeNaN();
  });

  it('keeps no JavaScript copy of the vocabulary, only its size (label scoring walks it by that size)', () => {
    const { tokens, merges } = t.models.model.fileInfo.metadata.tokenizer.ggml as {
      tokens: readonly string[];
      merges: readonly string[];
    };
    expect([tokens.length, merges.length]).toEqual([151936, 151387]);
    expect(tokens.some((token) => token !== undefined) || merges.some((merge) => merge !== undefined)).toBe(false);
    // Sparse (dictionary elements), not 8 bytes of holes per element as `new Array(length)` would be.
    v8.setFlagsFromString('--allow-natives-syntax');
    const hasDictionaryElements = new Function('array', 'return %HasDictionaryElements(array)') as (
      array: unknown,
    ) => boolean;
    expect([tokens, merges].map(hasDictionaryElements)).toEqual([true, true]);
    expect(hasDictionaryElements(new Array(151936))).toBe(false);
  });

  it('exposes Prometheus metrics: requests by route and status, latency, tokens, queue, memory, load time', async () => {
    await t.post('/v1/sentiment', { text: '' });
    await t.post('/v1/chat', { messages: [user('hi')], maxChars: 20 });
    const res = await t.get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/duet_requests_total\{route="\/v1\/sentiment",status="200"\} \d+/);
    expect(text).toMatch(/duet_requests_total\{route="\/v1\/sentiment",status="400"\} 1/);
    expect(text).toMatch(/duet_request_duration_seconds_bucket\{le="0.5",route="\/v1\/chat",status="200"\} \d+/);
    expect(text).toMatch(/duet_tokens_total\{task="chat",kind="completion"\} [1-9]/);
    expect(text).toMatch(/duet_tokens_total\{task="sentiment",kind="prompt"\} [1-9]/);
    expect(text).toMatch(/duet_queue_length 0/);
    expect(text).toMatch(/duet_busy_sequences 0/);
    // Each warm-up evaluated its task's prefix (a miss); the chat found its persona still cached (a hit).
    expect(text).toMatch(/duet_prefix_cache_lookups_total\{result="hit"\} [1-9]/);
    expect(text).toMatch(/duet_prefix_cache_lookups_total\{result="miss"\} [1-9]/);
    // The sentiment's evaluations held the decode lock alone; the chat's steps shared it.
    expect(text).toMatch(/duet_decode_turn_seconds_count\{class="batch",mode="exclusive"\} [1-9]/);
    expect(text).toMatch(/duet_decode_turn_seconds_count\{class="interactive",mode="shared"\} [1-9]/);
    expect(text).toMatch(/duet_memory_bytes\{kind="rss_anon"\} [1-9]/);
    expect(text).toMatch(/duet_model_load_seconds \d/);
  });

  it('exports the memory limit an alert compares anonymous memory + swap with: the lower of cgroup and ceiling', async () => {
    const ceiling = 100000 * 1048576; // READY_MAX_ANON_SWAP_MB above
    const cgroup = readCgroupMemoryLimit();
    const expected =
      cgroup !== undefined && cgroup < ceiling
        ? `{source="cgroup"} ${cgroup}`
        : `{source="ready_max_anon_swap"} ${ceiling}`;
    const limits = (await t.get('/metrics')).body
      .split('\n')
      .filter((line) => line.startsWith('duet_memory_limit_bytes'));
    expect(limits).toEqual([`duet_memory_limit_bytes${expected}`]);
  });

  it('labels unknown URLs as unmatched, so scanners cannot blow up metric cardinality', async () => {
    await t.get('/wp-admin/setup.php?x=1');
    expect((await t.get('/metrics')).body).toMatch(/duet_requests_total\{route="unmatched",status="404"\} 1/);
  });
});

describe('memory ceilings', () => {
  it('take readiness down when a ceiling is crossed', async () => {
    const t = await startTestApp({ READY_MAX_HEAP_MB: '1' });
    try {
      const res = await t.get('/health/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().error.memory).toMatchObject({ status: 'down', over: ['heapUsed'] });
      expect(res.json().info.model.status).toBe('up');
    } finally {
      await t.close();
    }
  });
});
