import { mkdtempSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { serverPerSuite } from '../support/suite-server.js';
import { runTool } from '../support/system-tool.js';

const API_KEY = 'unread-body-key';
const MB = 1_000_000;
const SIZES_MB = [2, 5, 20];
const TRIES = 20;
/** Each request of the 20-try loops fails after this long instead of holding up the suite. */
const REQUEST_LIMIT_MS = 10_000;
/** How long a test waits for a response or a close: many times what either takes. */
const WAIT_LIMIT_MS = 5000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `{"text":"aaa…"}` of exactly `bytes` bytes: over MAX_BODY_BYTES (1 MiB) for every size here. */
const jsonBody = (bytes: number) => `{"text":"${'a'.repeat(bytes - 11)}"}`;
const bodyFiles = new Map<number, string>();
/** The body of `megabytes` MB in a file, for curl; written once per size. */
const bodyFile = (megabytes: number) => {
  if (!bodyFiles.has(megabytes)) {
    const path = join(mkdtempSync(join(tmpdir(), 'duet-unread-')), `${megabytes}mb.json`);
    writeFileSync(path, jsonBody(megabytes * MB));
    bodyFiles.set(megabytes, path);
  }
  return bodyFiles.get(megabytes)!;
};
const authorization = (key?: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

/** A client sending a body of `megabytes` MB as its users would; the status it read, or what it failed with. */
type Client = (url: string, megabytes: number, key?: string) => Promise<number | string>;
const CLIENTS: Record<string, Client> = {
  "Node's fetch": async (url, megabytes, key) => {
    try {
      const response = await fetch(`${url}/v1/sentiment`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authorization(key) },
        body: jsonBody(megabytes * MB),
        signal: AbortSignal.timeout(REQUEST_LIMIT_MS),
      });
      await response.arrayBuffer();
      return response.status;
    } catch (error) {
      return String((error as { cause?: { code?: string } }).cause?.code ?? error);
    }
  },
  'the openai SDK': async (url, megabytes, key) => {
    const client = new OpenAI({
      baseURL: `${url}/v1`,
      apiKey: key ?? 'no-key',
      maxRetries: 0,
      timeout: REQUEST_LIMIT_MS,
    });
    const content = 'a'.repeat(megabytes * MB);
    return client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] }).then(
      () => 200,
      (error: unknown) => (error instanceof OpenAI.APIError && error.status) || String(error),
    );
  },
  curl: async (url, megabytes, key) => {
    const headers = Object.entries({ 'content-type': 'application/json', ...authorization(key) });
    const run = runTool(
      'curl',
      [
        ...['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(REQUEST_LIMIT_MS / 1000)],
        ...headers.flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
        ...['--data-binary', `@${bodyFile(megabytes)}`, `${url}/v1/sentiment`],
      ],
      'curl',
    );
    return run.status === 0 ? Number(run.stdout) : `curl exit ${run.status}: ${run.stderr.trim()}`;
  },
};

/** A raw connection, recording what it receives and the first error it meets. */
async function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const seen = { received: '', error: undefined as Error | undefined };
  socket.setEncoding('latin1').on('data', (chunk: string) => (seen.received += chunk));
  socket.on('error', (error) => (seen.error ??= error));
  return { socket, seen };
}

/** Writes `data`; resolves with the error the write met, if any, once it is all handed to the kernel. */
const writeAll = (socket: Socket, data: string) =>
  new Promise<Error | null | undefined>((resolve) => socket.write(data, resolve));

const requestHead = (method: string, path: string, headers: Record<string, string | number>) =>
  [`${method} ${path} HTTP/1.1`, 'Host: duet', ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`), '', ''].join(
    '\r\n',
  );

/** The responses complete in `text`, in order. */
function responses(text: string): { status: number; head: string; body: string }[] {
  const complete = [];
  for (let start = 0; ;) {
    const headEnd = text.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return complete;
    const head = text.slice(start, headEnd);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = text.slice(headEnd + 4, headEnd + 4 + length);
    if (body.length < length) return complete;
    complete.push({ status: Number(head.slice(9, 12)), head, body });
    start = headEnd + 4 + length;
  }
}

/** Waits until `count` responses have arrived or the connection has closed, at most WAIT_LIMIT_MS. */
async function awaitResponses(connection: Awaited<ReturnType<typeof rawConnection>>, count: number) {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (responses(connection.seen.received).length < count && !connection.socket.destroyed && Date.now() < deadline)
    await sleep(10);
  return responses(connection.seen.received);
}

/** Waits for the server to close the connection; whether it did within WAIT_LIMIT_MS. */
async function closedByServer(socket: Socket): Promise<boolean> {
  // Not events.once: it would reject on the reset that may come before 'close'.
  const closed = await new Promise<boolean>((resolve) => {
    if (socket.closed) return resolve(true);
    const limit = setTimeout(() => resolve(false), WAIT_LIMIT_MS);
    socket.once('close', () => {
      clearTimeout(limit);
      resolve(true);
    });
  });
  socket.destroy();
  return closed;
}

/** A counter's value from /metrics; fails when the series is not there. */
async function counterValue(url: string, series: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('an answer given before the body arrived reaches a client still sending the body', () => {
  const server = serverPerSuite({ API_KEYS: API_KEY, LOG_LEVEL: 'warn' });

  it('a raw client that keeps writing after the 413 reads all of it, and its connection stays usable', async () => {
    const connection = await rawConnection(server().url);
    const body = jsonBody(8 * MB);
    const head = requestHead('POST', '/v1/sentiment', {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
      'content-length': body.length,
    });
    const writeError = await writeAll(connection.socket, head + body);
    const [refusal] = await awaitResponses(connection, 1);
    expect(writeError ?? connection.seen.error).toBeUndefined();
    expect(refusal.status).toBe(413);
    expect(JSON.parse(refusal.body)).toMatchObject({
      statusCode: 413,
      message: expect.stringMatching(/MAX_BODY_BYTES/),
    });
    expect(refusal.head).not.toMatch(/\r\nconnection: close/i);
    // The rest of the body was read and discarded: the next request on the connection is answered.
    connection.socket.write(requestHead('GET', '/health/live', {}));
    const [, live] = await awaitResponses(connection, 2);
    expect(live?.status).toBe(200);
    connection.socket.destroy();
  });

  it.each(Object.keys(CLIENTS).flatMap((client) => [413, 401].map((status) => [client, status] as const)))(
    '%s reads the %i for 2, 5 and 20 MB bodies in 20 of 20 tries',
    async (client, status) => {
      const key = status === 413 ? API_KEY : undefined;
      for (const megabytes of SIZES_MB) {
        const read: (number | string)[] = [];
        for (let tries = 0; tries < TRIES; tries++) read.push(await CLIENTS[client](server().url, megabytes, key));
        expect({ megabytes, read }).toEqual({ megabytes, read: Array(TRIES).fill(status) });
      }
    },
  );
});

describe('a body past the discard bounds', () => {
  const MAX_BYTES = 1024 * 1024;
  const server = serverPerSuite({
    API_KEYS: API_KEY,
    UNREAD_BODY_MAX_BYTES: String(MAX_BYTES),
    UNREAD_BODY_MAX_MS: '300',
    LOG_LEVEL: 'warn',
  });
  const unreadBodies = (outcome: string) =>
    counterValue(server().url, `duet_unread_bodies_total{outcome="${outcome}"}`);
  const cases: { status: number; headers: Record<string, string> }[] = [
    { status: 413, headers: authorization(API_KEY) },
    { status: 401, headers: {} },
  ];
  const serverUnharmed = async () => {
    expect((await fetch(`${server().url}/health/live`)).status).toBe(200);
    const classified = await fetch(`${server().url}/v1/sentiment`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorization(API_KEY) },
      body: JSON.stringify({ text: 'still here' }),
    });
    expect(classified.status).toBe(200);
  };

  it.each(cases)(
    '$status: a body larger than UNREAD_BODY_MAX_BYTES ends with the connection closed',
    async ({ headers }) => {
      const before = await unreadBodies('bytes');
      const connection = await rawConnection(server().url);
      const body = jsonBody(8 * MB);
      const head = requestHead('POST', '/v1/sentiment', {
        ...headers,
        'content-type': 'application/json',
        'content-length': body.length,
      });
      void writeAll(connection.socket, head + body);
      expect(await closedByServer(connection.socket)).toBe(true);
      expect(await unreadBodies('bytes')).toBe(before + 1);
      await serverUnharmed();
    },
  );

  it.each(cases)(
    '$status: a client trickling the rest of its body is cut at UNREAD_BODY_MAX_MS, not the body timeout',
    async ({ status, headers }) => {
      const before = {
        time: await unreadBodies('time'),
        timeouts: await counterValue(server().url, 'duet_client_timeouts_total{phase="body"}'),
      };
      const connection = await rawConnection(server().url);
      const body = jsonBody(2 * MB);
      connection.socket.write(
        requestHead('POST', '/v1/sentiment', {
          ...headers,
          'content-type': 'application/json',
          'content-length': body.length,
        }),
      );
      const trickle = setInterval(() => connection.socket.write('a'), 50);
      try {
        expect((await awaitResponses(connection, 1))[0]?.status).toBe(status);
        // BODY_TIMEOUT_MS is 30 s here: closing within WAIT_LIMIT_MS is UNREAD_BODY_MAX_MS's doing.
        expect(await closedByServer(connection.socket)).toBe(true);
      } finally {
        clearInterval(trickle);
      }
      expect(await unreadBodies('time')).toBe(before.time + 1);
      expect(await counterValue(server().url, 'duet_client_timeouts_total{phase="body"}')).toBe(before.timeouts);
      await serverUnharmed();
    },
  );
});
