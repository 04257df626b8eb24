import { startTestApp } from '../support/test-app.js';

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};
const forwardedFor = (chain: string) => ({ 'x-forwarded-for': chain });
// The rate limit is checked before anything needs the model, so these apps skip loading it: a
// request within its budget gets 503 (model not loaded), one over it 429.
const WITHIN_BUDGET = 503;

describe('behind a load balancer', () => {
  it('READY_QUEUE_CHECK=false keeps a replica with a full queue ready: the 503 alone pushes back', async () => {
    const t = await startTestApp({ SEQUENCES: '1', MAX_QUEUE: '0', CHAT_MAX_TOKENS: '8', READY_QUEUE_CHECK: 'false' });
    try {
      const chat = t.post('/v1/chat', { messages: [{ role: 'user', content: 'tell me everything' }] });
      await until(() => t.scheduler.load().busy === 1);
      const [refused, ready] = await Promise.all([t.post('/v1/sentiment', { text: 'hello' }), t.get('/health/ready')]);
      expect(refused.statusCode).toBe(503);
      expect(ready.statusCode).toBe(200);
      expect(Object.keys(ready.json().details)).toEqual(['model', 'memory']);
      expect((await chat).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('TRUST_PROXY=1 rate-limits each client by the address the nearest proxy appended', async () => {
    const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '1', TRUST_PROXY: '1' }, { load: false });
    try {
      const send = (chain: string) => t.post('/v1/sentiment', { text: 'hi' }, forwardedFor(chain));
      expect((await send('203.0.113.1')).statusCode).toBe(WITHIN_BUDGET);
      expect((await send('203.0.113.2')).statusCode).toBe(WITHIN_BUDGET); // another client, its own budget
      // What the client itself put in front of the proxy's entry does not make it someone else.
      expect((await send('198.51.100.9, 203.0.113.1')).statusCode).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('without TRUST_PROXY, X-Forwarded-For is ignored: every request counts for the peer address', async () => {
    const t = await startTestApp({ RATE_LIMIT_PER_MINUTE: '1' }, { load: false });
    try {
      const send = (chain: string) => t.post('/v1/sentiment', { text: 'hi' }, forwardedFor(chain));
      expect((await send('203.0.113.1')).statusCode).toBe(WITHIN_BUDGET);
      expect((await send('203.0.113.2')).statusCode).toBe(429);
    } finally {
      await t.close();
    }
  });
});
