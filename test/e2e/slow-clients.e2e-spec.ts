import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { startServerProcess } from '../support/server-process.js';
import { serverPerSuite } from '../support/suite-server.js';
import { TINY_MODEL } from '../support/test-app.js';

/** How long a test waits for the server to cut a connection: many times the timeouts it sets. */
const CUT_LIMIT_MS = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw connection that records what the server sends until it closes the connection. */
class RawClient {
  received = '';
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8').on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => undefined); // a byte sent after the server cut the connection gets a reset
    // Not events.once: it would reject on that reset, which may come before 'close'.
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(url: string): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  /** Writes `text` a character every `everyMs` until it is all sent or the connection closes. */
  trickle(text: string, everyMs = 100): { sent: () => number } {
    let sent = 0;
    const timer = setInterval(() => {
      if (sent === text.length || this.socket.destroyed) clearInterval(timer);
      else this.socket.write(text[sent++]);
    }, everyMs);
    void this.closed.then(() => clearInterval(timer));
    return { sent: () => sent };
  }

  async receivedMatching(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.received)) await once(this.socket, 'data');
  }

  /** Waits for the server to close the connection; fails if it is still open after `CUT_LIMIT_MS`. */
  async closedByServer(): Promise<void> {
    const limit = sleep(CUT_LIMIT_MS).then(() => 'open');
    if ((await Promise.race([this.closed, limit])) === 'open') {
      this.socket.destroy();
      throw new Error(`connection still open after ${CUT_LIMIT_MS} ms; received: ${JSON.stringify(this.received)}`);
    }
  }
}

const requestHead = (method: string, path: string, headers: Record<string, string | number> = {}) =>
  `${method} ${path} HTTP/1.1\r\nHost: duet\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
/** A complete body is a 400 (no messages): only a cut connection keeps it from being answered. */
const trickledBody = JSON.stringify({ messages: [] }).padEnd(40);
const jsonHead = { 'content-type': 'application/json', 'content-length': trickledBody.length };

describe('clients too slow to send a request, or idle too long', () => {
  const HEADERS_TIMEOUT_MS = 300;
  const BODY_TIMEOUT_MS = 500;
  const KEEP_ALIVE_TIMEOUT_MS = 500;
  const server = serverPerSuite({
    HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  });
  const clientTimeouts = async (phase: string) =>
    Number(
      new RegExp(`duet_client_timeouts_total\\{phase="${phase}"\\} (\\d+)`).exec(
        await (await fetch(`${server().url}/metrics`)).text(),
      )?.[1],
    );

  it('cuts a body trickled a byte per 100 ms with 408 once BODY_TIMEOUT_MS has passed, and counts it', async () => {
    const before = await clientTimeouts('body');
    const client = await RawClient.open(server().url);
    client.socket.write(requestHead('POST', '/v1/chat', jsonHead));
    const headersSent = Date.now();
    const body = client.trickle(trickledBody);
    await client.closedByServer();
    expect(Date.now() - headersSent).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS);
    expect(body.sent()).toBeLessThan(trickledBody.length);
    expect(client.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(await clientTimeouts('body')).toBe(before + 1);
  });

  it('cuts headers trickled without end with 408 once HEADERS_TIMEOUT_MS has passed, and counts it', async () => {
    const before = await clientTimeouts('headers');
    const client = await RawClient.open(server().url);
    const started = Date.now();
    client.socket.write('POST /v1/chat HTTP/1.1\r\nHost: duet\r\nX-Slow: ');
    client.trickle('a'.repeat(100));
    await client.closedByServer();
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS);
    expect(client.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(await clientTimeouts('headers')).toBe(before + 1);
  });

  it('closes a kept-alive connection once it has been idle for KEEP_ALIVE_TIMEOUT_MS', async () => {
    const client = await RawClient.open(server().url);
    client.socket.write(requestHead('GET', '/health/live'));
    await client.receivedMatching(/\r\n\r\n\{.*\}$/s);
    const idleSince = Date.now();
    expect(client.received).toMatch(/^HTTP\/1\.1 200 OK\r\n(.*\r\n)*connection: keep-alive\r\n/i);
    await client.closedByServer();
    // The server starts the idle timer as it sends the response, a moment before it arrives here.
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 50);
  });
});

describe('requests slower than every client timeout, on the server side', () => {
  const SMALLEST_TIMEOUT_MS = 100;
  const server = serverPerSuite({
    SEQUENCES: '1',
    MAX_QUEUE: '1',
    CHAT_MAX_TOKENS: '256',
    CHAT_MAX_CHARS: '2000',
    HEADERS_TIMEOUT_MS: String(SMALLEST_TIMEOUT_MS),
    BODY_TIMEOUT_MS: String(SMALLEST_TIMEOUT_MS),
    KEEP_ALIVE_TIMEOUT_MS: String(SMALLEST_TIMEOUT_MS),
    REQUEST_TIMEOUT_MS: '120000', // a loaded machine may take long over 256 tokens; only the timeouts above are under test
  });
  const post = (path: string, body: object) =>
    fetch(server().url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('still complete: a chat streaming and a request waiting in the queue for it', async () => {
    const started = Date.now();
    const stream = await post('/v1/chat', {
      messages: [{ role: 'user', content: 'Tell me about the sea.' }],
      maxChars: 2000,
      stream: true,
    });
    const events = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = (await events.read()).value!; // the first event: the sequence is taken
    const queuedAt = Date.now();
    const queued = post('/v1/sentiment', { text: 'waiting for the one sequence' }).then((response) => ({
      status: response.status,
      waitedMs: Date.now() - queuedAt,
    }));
    for (let next = await events.read(); !next.done; next = await events.read()) text += next.value;
    const streamedMs = Date.now() - started;

    expect(stream.status).toBe(200);
    expect(text).toMatch(
      /event: done\ndata: \{"finishReason":"length","usage":\{"promptTokens":\d+,"completionTokens":256\}\}\n\n$/,
    );
    const { status, waitedMs } = await queued;
    expect(status).toBe(200);
    // Both outlasted the deadline for receiving a request (headers + body) and the keep-alive timeout.
    expect(Math.min(streamedMs, waitedMs)).toBeGreaterThan(2 * SMALLEST_TIMEOUT_MS);
  });
});

describe('SIGTERM while a client is still sending its body', () => {
  it('cuts that client instead of waiting for it, and exits 0 well within SHUTDOWN_DRAIN_MS', async () => {
    const drainMs = 5000;
    const server = await startServerProcess(TINY_MODEL, { SHUTDOWN_DRAIN_MS: String(drainMs) });
    const client = await RawClient.open(server.url);
    const body = trickledBody.padEnd(1000); // 100 s at a byte per 100 ms
    const head = requestHead('POST', '/v1/chat', {
      ...jsonHead,
      'content-length': body.length,
      expect: '100-continue',
    });
    client.socket.write(head);
    await client.receivedMatching(/^HTTP\/1\.1 100 Continue\r\n\r\n/); // the server has the request
    client.trickle(body);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(drainMs);
    await client.closed;
    expect(server.stdout.map((line) => JSON.parse(line).event)).toContain('shutdown_complete');
  });
});
