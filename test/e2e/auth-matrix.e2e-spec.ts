import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createApp } from '../../src/app/app.factory.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { startTestApp, TestApp, TINY_MODEL } from '../support/test-app.js';

const API_KEY = 'matrix-api-key';
const OPS_KEY = 'matrix-ops-key';

interface ProtectedRoute {
  method: 'GET' | 'POST';
  path: string;
  /** The documented pattern, where the path fills in a parameter ({task}). */
  pattern?: string;
  key: string;
  /** A valid body, so a request that slips past the key check answers 200 rather than 400. */
  body?: unknown;
}

const user = (content: string) => ({ role: 'user', content });

/** Every route that needs a key; checked against the OpenAPI document so a new route joins the matrix. */
const PROTECTED: ProtectedRoute[] = [
  { method: 'POST', path: '/v1/sentiment', key: API_KEY, body: { text: 'hi' } },
  { method: 'POST', path: '/v1/sentiment/batch', key: API_KEY, body: { items: [{ text: 'hi' }] } },
  { method: 'POST', path: '/v1/chat', key: API_KEY, body: { messages: [user('hi')] } },
  { method: 'POST', path: '/v1/chat/completions', key: API_KEY, body: { messages: [user('hi')], max_tokens: 1 } },
  { method: 'GET', path: '/v1/models', key: API_KEY },
  { method: 'GET', path: '/v1/tasks', key: API_KEY },
  {
    method: 'POST',
    path: '/v1/classify/sentiment',
    pattern: '/v1/classify/{task}',
    key: API_KEY,
    body: { text: 'hi' },
  },
  {
    method: 'POST',
    path: '/v1/classify/sentiment/batch',
    pattern: '/v1/classify/{task}/batch',
    key: API_KEY,
    body: { items: [{ text: 'hi' }] },
  },
  { method: 'POST', path: '/v1/triage', key: API_KEY, body: { text: 'hi' } },
  { method: 'POST', path: '/v1/triage/batch', key: API_KEY, body: { items: [{ text: 'hi' }] } },
  { method: 'POST', path: '/v1/chat/chat', pattern: '/v1/chat/{task}', key: API_KEY, body: { messages: [user('hi')] } },
  {
    method: 'POST',
    path: '/v1/extract/ticket',
    pattern: '/v1/extract/{task}',
    key: API_KEY,
    body: { text: 'Order 1: a refund, please.' },
  },
  { method: 'GET', path: '/health/live', key: OPS_KEY },
  { method: 'GET', path: '/health/ready', key: OPS_KEY },
  { method: 'GET', path: '/health/memory', key: OPS_KEY },
  { method: 'GET', path: '/metrics', key: OPS_KEY },
];

const percentEncoded = (char: string, upperHex: boolean) => {
  const hex = char.charCodeAt(0).toString(16);
  return `%${upperHex ? hex.toUpperCase() : hex}`;
};

/**
 * Request targets that a router, a proxy or a browser might treat as the same route: encoded
 * letters, case, dot segments, duplicate and trailing slashes, matrix parameters, absolute form.
 */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const replaceSegment = (i: number, spelled: string) => join(segments.map((s, j) => (j === i ? spelled : s)));
  const insertAt = (k: number, inserted: string[]) =>
    join([...segments.slice(0, k), ...inserted, ...segments.slice(k)]);
  const perSegment = segments.flatMap((segment, i) =>
    [
      percentEncoded(segment[0], false) + segment.slice(1),
      percentEncoded(segment[0], true) + segment.slice(1),
      `%25${percentEncoded(segment[0], false).slice(1)}${segment.slice(1)}`, // double-encoded
      segment.toUpperCase(),
      segment[0].toUpperCase() + segment.slice(1),
      `${segment};a=b`,
      `${segment}%20`,
    ].map((spelled) => replaceSegment(i, spelled)),
  );
  const perBoundary = segments
    .concat('')
    .flatMap((_, k) =>
      [['.'], [''], ['x', '..'], ['%2e'], ['x', '%2e%2e'], [';a=b']].map((inserted) => insertAt(k, inserted)),
    );
  const whole = [
    `http://x${path}`,
    `HTTP://X${path}`,
    `https://x:1${path}`,
    `http://x${replaceSegment(0, percentEncoded(segments[0][0], false) + segments[0].slice(1))}`,
    `${path}?a=b`,
    `${path}?`,
    `${path}#x`,
    `${path}/`,
    `/${path}`,
    `/${segments.join('%2F')}`,
  ];
  return [...new Set([...perSegment, ...perBoundary, ...whole])].filter((spelled) => spelled !== path);
}

type Send = (method: string, target: string, headers: Record<string, string>, body?: unknown) => Promise<number>;

/** One request written byte for byte on a fresh connection: no client library normalizes the target. */
function rawRequest(port: number): Send {
  return (method, target, headers, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const head = [
        `${method} ${target} HTTP/1.1`,
        'Host: x',
        'Connection: close',
        ...(payload ? ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`] : []),
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      // Written, not ended: a half-closed connection counts as a client that left.
      const socket = connect(port, '127.0.0.1', () => socket.write(`${head.join('\r\n')}\r\n\r\n${payload}`));
      let response = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)));
    });
}

describe('auth matrix: every protected route, every spelling', () => {
  let t: TestApp;
  const transports: Record<string, Send> = {};
  beforeAll(async () => {
    // An extract task for /v1/extract/{task}; its tiny token cap keeps the many valid requests cheap.
    const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'extract-auth.yaml');
    t = await startTestApp({ API_KEYS: API_KEY, OPS_API_KEYS: OPS_KEY, CHAT_MAX_TOKENS: '2', TASKS_FILE });
    const fastify = t.app.getHttpAdapter().getInstance();
    transports.inject = async (method, url, headers, body) =>
      (
        await fastify.inject({
          method: method as 'GET',
          url,
          headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
          payload: body === undefined ? undefined : JSON.stringify(body),
        })
      ).statusCode;
    await t.app.listen(0, '127.0.0.1');
    transports.socket = rawRequest((t.app.getHttpServer().address() as AddressInfo).port);
  });
  afterAll(() => t.close());

  it('lists every documented operation', async () => {
    const doc = (await t.get('/docs/openapi.json')).json();
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(PROTECTED.map((r) => `${r.method} ${r.pattern ?? r.path}`).sort());
  });

  describe.each(['inject', 'socket'])('over %s', (transport) => {
    it.each(PROTECTED.map((route) => [`${route.method} ${route.path}`, route]))(
      '%s: no spelling answers without its key',
      async (_name, route) => {
        const send = transports[transport];
        const methods = route.method === 'GET' ? ['GET', 'HEAD'] : ['POST'];
        const answered: string[] = [];
        for (const method of methods)
          for (const target of [route.path, ...spellings(route.path)]) {
            const status = await send(method, target, {}, route.body);
            if (status !== 401 && status !== 404) answered.push(`${method} ${target} -> ${status}`);
          }
        expect(answered).toEqual([]);
      },
    );

    it.each(PROTECTED.map((route) => [`${route.method} ${route.path}`, route]))(
      "%s: the other area's key is refused, its own key answers",
      async (_name, route) => {
        const send = transports[transport];
        const otherKey = route.key === API_KEY ? OPS_KEY : API_KEY;
        const encoded = `/${percentEncoded(route.path[1], false)}${route.path.slice(2)}`;
        for (const target of [route.path, encoded]) {
          expect(await send(route.method, target, { authorization: `Bearer ${otherKey}` }, route.body)).toBe(401);
          expect(await send(route.method, target, { authorization: `Bearer ${route.key}` }, route.body)).toBe(200);
        }
      },
    );
  });

  it('refuses absolute-form targets without a key and serves them with it', async () => {
    const target = 'http://x/v1/sentiment';
    expect(await transports.socket('POST', target, {}, { text: 'hi' })).toBe(401);
    expect(await transports.socket('POST', target, { authorization: `Bearer ${API_KEY}` }, { text: 'hi' })).toBe(200);
  });

  it('keeps the demo page and the docs open', async () => {
    for (const path of ['/', '/docs', '/docs/openapi.json']) expect(await transports.socket('GET', path, {})).toBe(200);
  });
});

describe('routes added later', () => {
  it('are protected by the area their pattern falls under', async () => {
    const app = await createApp(
      await ConfigModule.load({ MODEL_PATH: TINY_MODEL, API_KEYS: API_KEY, OPS_API_KEYS: OPS_KEY, LOG_LEVEL: 'error' }),
    );
    const fastify = app.getHttpAdapter().getInstance();
    for (const path of ['/v1/added', '/health/added', '/added']) fastify.get(path, async () => ({ ok: true }));
    await app.init();
    try {
      const status = async (url: string, key?: string) =>
        (await fastify.inject({ url, headers: key ? { authorization: `Bearer ${key}` } : {} })).statusCode;
      expect(await status('/%761/added')).toBe(401);
      expect(await status('/%761/added', API_KEY)).toBe(200);
      expect(await status('/%68ealth/added')).toBe(401);
      expect(await status('/%68ealth/added', OPS_KEY)).toBe(200);
      expect(await status('/%61dded')).toBe(200);
    } finally {
      await app.close();
    }
  });
});
