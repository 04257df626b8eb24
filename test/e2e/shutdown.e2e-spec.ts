import { ServerProcess, startServerProcess } from '../support/server-process.js';
import { TINY_MODEL } from '../support/test-app.js';

/** Each generated token comes SLOW_GENERATION_MS later, so a chat outlasts what it must. */
const SLOW_GENERATION = ['--import', './test/support/slow-generation.mjs'];

const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const chatBody = (content: string, stream = false) => ({
  messages: [{ role: 'user', content }],
  maxChars: 2000,
  ...(stream ? { stream } : {}),
});

/** A response with its whole body read, and the order in which it was complete. */
let finished = 0;
const complete = async (response: Promise<Response>) => {
  const res = await response;
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text, order: finished++ };
};

/** Polls /health/memory until the pool looks as expected. */
async function until(server: ServerProcess, expected: { activeSequences: number; queueLength: number }) {
  for (;;) {
    const memory = (await (await fetch(`${server.url}/health/memory`)).json()) as typeof expected;
    if (memory.activeSequences === expected.activeSequences && memory.queueLength === expected.queueLength) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const events = (server: ServerProcess) => server.stdout.map((line) => JSON.parse(line));

describe('graceful shutdown of the real process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: queued requests get 503 at once, the running one its answer, and the process exits 0',
    async (signal) => {
      const server = await startServerProcess(
        TINY_MODEL,
        {
          THREADS: '1',
          SEQUENCES: '1',
          CHAT_MAX_TOKENS: '40',
          CHAT_MAX_CHARS: '2000',
          SHUTDOWN_DRAIN_MS: '20000',
          SLOW_GENERATION_MS: '50',
        },
        SLOW_GENERATION,
      );
      const running = complete(post(server.url, '/v1/chat', chatBody('tell me everything about the sea')));
      await until(server, { activeSequences: 1, queueLength: 0 });
      const queued = [
        complete(post(server.url, '/v1/chat', chatBody('queued question'))),
        complete(post(server.url, '/v1/sentiment', { text: 'queued text' })),
      ];
      await until(server, { activeSequences: 1, queueLength: 2 });
      server.child.kill(signal);

      const [answer, ...refused] = await Promise.all([running, ...queued]);
      for (const response of refused) {
        expect(response).toMatchObject({ status: 503, retryAfter: '1' });
        expect(JSON.parse(response.text)).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'The service is shutting down and did not start this request; retry shortly.',
        });
        expect(response.order).toBeLessThan(answer.order); // answered while the running chat still ran
      }
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text).usage.completionTokens).toBe(40);
      const late = await post(server.url, '/v1/sentiment', { text: 'too late' }).then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(late);
      const exit = await server.exited;
      expect({ ...exit, stderr: server.stderr.join('') }).toEqual({ code: 0, signal: null, stderr: '' });
      const logged = events(server).map((entry) => entry.event);
      expect(logged).toEqual(expect.arrayContaining(['config', 'shutdown_started', 'shutdown_complete']));
      expect(logged).not.toContain('shutdown_stopped_running');
    },
  );

  it('requests still running near the drain deadline get 503, never a dropped connection', async () => {
    const drainMs = 4000;
    const server = await startServerProcess(
      TINY_MODEL,
      {
        THREADS: '1',
        SEQUENCES: '2',
        CHAT_MAX_TOKENS: '256',
        CHAT_MAX_CHARS: '2000',
        SHUTDOWN_DRAIN_MS: String(drainMs),
        SLOW_GENERATION_MS: '50', // 256 tokens: over 12 s
      },
      SLOW_GENERATION,
    );
    // Conversations the seeded tiny model does not end by itself: both run to the token cap.
    const plain = complete(post(server.url, '/v1/chat', chatBody('tell me everything about the sea')));
    const streamed = complete(post(server.url, '/v1/chat', chatBody('a long question, streamed', true)));
    await until(server, { activeSequences: 2, queueLength: 0 });
    server.child.kill('SIGTERM');

    const stopped = {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The service is shutting down and stopped this request at the drain deadline; retry shortly.',
    };
    const answer = await plain;
    expect(answer).toMatchObject({ status: 503, retryAfter: '1' });
    expect(JSON.parse(answer.text)).toEqual(stopped);
    const stream = await streamed;
    expect(stream.status).toBe(200);
    expect(stream.text).toMatch(/^event: delta\n/);
    expect(stream.text.endsWith(`event: error\ndata: ${JSON.stringify(stopped)}\n\n`)).toBe(true);

    const exit = await server.exited; // 0: everything was answered before the deadline
    expect({ ...exit, stderr: server.stderr.join('') }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(events(server)).toContainEqual(expect.objectContaining({ event: 'shutdown_stopped_running', requests: 2 }));
  });

  it('logs the effective configuration once at startup', async () => {
    const server = await startServerProcess(TINY_MODEL, { SEQUENCES: '3' });
    server.child.kill('SIGTERM');
    await server.exited;
    const configs = events(server).filter((entry) => entry.event === 'config');
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ sequences: 3, host: '127.0.0.1', maxQueue: 64 });
  });
});
