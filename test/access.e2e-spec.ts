import { AppConfig as AppConfigToken } from '../src/config/app-config.js';
import { startTestApp, TestApp } from './support/test-app.js';

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
    const t = await startTestApp({ CORS_ORIGINS: 'https://shop.example', API_KEYS: 'k' });
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
      expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past RATE_LIMIT_PER_MINUTE, counted per API key', async () => {
    const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '3', API_KEYS: 'a,b' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await t.post('/v1/sentiment', { text: 'hi' }, auth('a'))).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await t.post('/v1/sentiment', { text: 'hi' }, auth('a'));
      expect(limited.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await t.post('/v1/sentiment', { text: 'hi' }, auth('b'))).statusCode).toBe(200); // another key has its own budget
      expect((await t.get('/health/live')).statusCode).toBe(200); // health is never throttled
    } finally {
      await t.close();
    }
  });
});
