import type { InjectOptions } from 'fastify';
import { AppConfig as AppConfigToken } from '../../src/config/app-config.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: 'key-one, key-two', OPS_API_KEYS: 'ops-key' });
  });
  afterAll(() => t.close());

  it('guard /v1/* with bearer tokens, answering 401 in the error shape before reading the body', async () => {
    const missing = await t.post('/v1/sentiment', '{not even json');
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Missing API key: send Authorization: Bearer <key>',
    });
    expect((await t.post('/v1/sentiment', { text: 'hi' }, auth('wrong'))).json().message).toBe('Invalid API key');
    expect((await t.post('/v1/sentiment', { text: 'hi' }, auth('key-two'))).statusCode).toBe(200);
    expect((await t.post('/v1/sentiment', { text: 'hi' }, auth('ops-key'))).statusCode).toBe(401);
  });

  it('guard health and metrics with their own keys when OPS_API_KEYS is set', async () => {
    expect((await t.get('/health/ready')).statusCode).toBe(401);
    expect((await t.get('/metrics')).statusCode).toBe(401);
    const fastify = t.app.getHttpAdapter().getInstance();
    expect((await fastify.inject({ url: '/metrics', headers: auth('ops-key') })).statusCode).toBe(200);
    expect((await fastify.inject({ url: '/health/live', headers: auth('key-one') })).statusCode).toBe(401);
  });

  it('never print keys in the effective configuration', () => {
    const logged = JSON.stringify(t.app.get(AppConfigToken).forLog());
    expect(logged).not.toContain('key-one');
    expect(logged).toContain('"apiKeys":2');
  });
});

describe('open by default', () => {
  it('serves /v1/* and health without keys when none are configured', async () => {
    const t = await startTestApp();
    try {
      expect((await t.post('/v1/sentiment', { text: 'hi' })).statusCode).toBe(200);
      expect((await t.get('/health/live')).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('CORS', () => {
  it('answers preflights for allowed origins only', async () => {
    const t = await startTestApp({ CORS_ORIGINS: 'https://shop.example', API_KEYS: 'k' }, { load: false });
    try {
      const fastify = t.app.getHttpAdapter().getInstance();
      const preflight = (origin: string) =>
        fastify.inject({
          method: 'OPTIONS',
          url: '/v1/chat',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type,authorization',
          },
        });
      const allowed = await preflight('https://shop.example');
      expect(allowed.statusCode).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
      expect(String(allowed.headers['access-control-allow-headers'])).toMatch(/authorization/);
      expect(String(allowed.headers['access-control-allow-headers'])).toMatch(/x-request-timeout/);
      expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past RATE_LIMIT_PER_MINUTE, counted per API key', async () => {
    const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '3', API_KEYS: 'a,b' }, { load: false });
    try {
      const fastify = t.app.getHttpAdapter().getInstance();
      const models = (key: string) => fastify.inject({ url: '/v1/models', headers: auth(key) });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await models('a')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await models('a');
      expect(limited.json()).toMatchObject({ error: { type: 'rate_limit_error', message: expect.any(String) } });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await models('b')).statusCode).toBe(200); // another key has its own budget
      expect((await t.get('/health/live')).statusCode).toBe(200); // health is never throttled
    } finally {
      await t.close();
    }
  });

  /**
   * Status of each request, in order, on a fresh app limited to 2 per minute. The model stays
   * unloaded: the guard counts a request before its handler runs (POST /v1/sentiment answers 503).
   */
  async function limited(env: Record<string, string>, requests: InjectOptions[]): Promise<number[]> {
    const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '2', ...env }, { load: false });
    try {
      const fastify = t.app.getHttpAdapter().getInstance();
      const statuses = [];
      for (const request of requests) statuses.push((await fastify.inject(request)).statusCode);
      return statuses;
    } finally {
      await t.close();
    }
  }

  it('counts by client IP when API keys are off: a made-up bearer token per request opens no fresh bucket', async () => {
    const requests = ['t1', 't2', 't3'].map((token) => ({ url: '/v1/models', headers: auth(token) }));
    expect(await limited({}, requests)).toEqual([200, 200, 429]);
  });

  it('gives a client one bucket across all routes', async () => {
    const models = { url: '/v1/models' };
    const sentiment = { method: 'POST' as const, url: '/v1/sentiment', payload: { text: 'hi' } };
    expect(await limited({}, [models, sentiment, models, sentiment])).toEqual([200, 503, 429, 429]);
  });

  const forwardedFor = (remoteAddress: string, clients: string[]) =>
    clients.map((client) => ({ url: '/v1/models', remoteAddress, headers: { 'x-forwarded-for': client } }));
  const clients = ['198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.1'];

  it('ignores X-Forwarded-For by default: the socket address is the client', async () => {
    expect(await limited({}, forwardedFor('10.0.0.2', clients))).toEqual([200, 200, 429, 429]);
  });

  it('takes the client IP from X-Forwarded-For when the request comes from a proxy TRUST_PROXY trusts', async () => {
    expect(await limited({ TRUST_PROXY: '10.0.0.0/8' }, forwardedFor('10.0.0.2', clients))).toEqual([
      200, 200, 200, 429,
    ]);
    expect(await limited({ TRUST_PROXY: 'true' }, forwardedFor('10.0.0.2', clients))).toEqual([200, 200, 200, 429]);
    expect(await limited({ TRUST_PROXY: '10.0.0.0/8' }, forwardedFor('192.0.2.7', clients))).toEqual([
      200, 200, 429, 429,
    ]);
  });
});
