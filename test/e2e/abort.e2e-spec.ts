import { serverPerSuite } from '../support/suite-server.js';

const post = (url: string, path: string, body: unknown, signal?: AbortSignal) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
const longChat = { messages: [{ role: 'user', content: 'tell me everything about the sea' }], maxChars: 2000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a client that disconnects', () => {
  const server = serverPerSuite({ SEQUENCES: '1', MAX_QUEUE: '1', CHAT_MAX_TOKENS: '256', CHAT_MAX_CHARS: '2000' });

  it('stops its generation and frees the sequence for the next request', async () => {
    let started = Date.now();
    const full = (await (await post(server().url, '/v1/chat', longChat)).json()) as {
      usage: { completionTokens: number };
    };
    const fullMs = Date.now() - started;
    expect(full.usage.completionTokens).toBe(256);

    const client = new AbortController();
    const abandoned = post(server().url, '/v1/chat', longChat, client.signal).catch((error: Error) => error.name);
    await sleep(fullMs / 5);
    client.abort();
    expect(await abandoned).toBe('AbortError');
    started = Date.now();
    expect((await post(server().url, '/v1/sentiment', { text: 'next in line' })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(fullMs / 2); // did not wait for the abandoned generation to finish

    const metrics = await (await fetch(`${server().url}/metrics`)).text();
    expect(metrics).toMatch(/duet_requests_total\{route="\/v1\/chat",status="499"\} 1/);
    expect(metrics).toMatch(/duet_tokens_total\{task="chat",kind="completion"\} 256\n/); // only the finished chat counted
    const chatLines = server()
      .stdout.map((line) => JSON.parse(line))
      .filter((entry) => entry.event === 'request' && entry.url === '/v1/chat');
    expect(chatLines.map((entry) => entry.status)).toEqual([200, 499]);
  });

  it('gives up its place in the queue', async () => {
    const running = post(server().url, '/v1/chat', longChat);
    await sleep(50);
    const client = new AbortController();
    const queued = post(server().url, '/v1/chat', longChat, client.signal).catch((error: Error) => error.name);
    await sleep(50);
    expect(await (await fetch(`${server().url}/health/memory`)).json()).toMatchObject({
      activeSequences: 1,
      queueLength: 1,
    });
    client.abort();
    expect(await queued).toBe('AbortError');
    await sleep(50);
    expect(await (await fetch(`${server().url}/health/memory`)).json()).toMatchObject({
      activeSequences: 1,
      queueLength: 0,
    });
    // MAX_QUEUE is 1: the freed place takes a new request instead of a 503.
    const next = post(server().url, '/v1/sentiment', { text: 'queued after the one that left' });
    expect((await running).status).toBe(200);
    expect((await next).status).toBe(200);
  });
});

describe('a request over REQUEST_TIMEOUT_MS', () => {
  const server = serverPerSuite({
    SEQUENCES: '1',
    REQUEST_TIMEOUT_MS: '400',
    CHAT_MAX_TOKENS: '256',
    CHAT_MAX_CHARS: '2000',
  });

  it('gets 504 in the error shape when running, 503 when still queued, and frees its sequence', async () => {
    const started = Date.now();
    const responses = await Promise.all([
      post(server().url, '/v1/chat', longChat),
      post(server().url, '/v1/chat', longChat),
    ]);
    const elapsed = Date.now() - started;
    const [running, queued] = responses.sort((a, b) => b.status - a.status);
    expect(running.status).toBe(504);
    expect(await running.json()).toEqual({
      statusCode: 504,
      error: 'Gateway Timeout',
      message:
        'The request took longer than its deadline (400 ms: REQUEST_TIMEOUT_MS, or X-Request-Timeout when shorter)',
    });
    // The second never started: a refusal to retry rather than a timeout. Dropped at its deadline,
    // or refused at once if the warm-up measured generations slow enough that two miss 400 ms.
    expect(queued.status).toBe(503);
    expect(Number(queued.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const { details } = (await queued.json()) as { details: { reason: string } };
    expect(['deadline_before_start', 'deadline_unreachable']).toContain(details.reason);
    expect(elapsed).toBeLessThan(1500); // 256 tokens take longer than that: both stopped at the deadline
    const next = await post(server().url, '/v1/sentiment', { text: 'the sequence is free again' });
    expect(next.status).toBe(200);
    expect(await (await fetch(`${server().url}/health/memory`)).json()).toMatchObject({
      activeSequences: 0,
      queueLength: 0,
    });
  });
});
