import { jest } from '@jest/globals';
import { ChatService } from '../../src/modules/tasks/chat.service.js';
import { startTestApp } from '../support/test-app.js';

const SECRET = 'my card number is 4111 1111 1111 1111';
const API_KEY = 'logging-api-key-7f3a';

async function requestLogs(logContent: boolean) {
  const lines: string[] = [];
  const t = await startTestApp({ LOG_LEVEL: 'info', LOG_CONTENT: String(logContent) }, { logLines: lines });
  try {
    await t.post('/v1/sentiment', { text: SECRET });
    await t.post('/v1/chat', { messages: [{ role: 'user', content: SECRET }] });
    await t.post('/v1/sentiment', { text: '' });
  } finally {
    await t.close();
  }
  return lines;
}

describe('request logs', () => {
  it('write one JSON line per request with id, route, status and latency, and no request text by default', async () => {
    const lines = await requestLogs(false);
    expect(lines.every((line) => typeof JSON.parse(line) === 'object')).toBe(true);
    const requests = lines.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'request');
    expect(requests.map((r) => [r.method, r.url, r.status])).toEqual([
      ['POST', '/v1/sentiment', 200],
      ['POST', '/v1/chat', 200],
      ['POST', '/v1/sentiment', 400],
    ]);
    for (const r of requests) {
      expect(typeof r.requestId).toBe('string');
      expect(r.ms).toBeGreaterThanOrEqual(0);
    }
    expect(lines.join('\n')).not.toContain('4111');
  });

  it('include request and response bodies only with LOG_CONTENT=true', async () => {
    const requests = (await requestLogs(true))
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.event === 'request');
    expect(requests[0].requestBody).toEqual({ text: SECRET });
    expect(JSON.parse(requests[0].responseBody)).toHaveProperty('label');
  });
});

describe('request logs and credentials', () => {
  it.each([false, true])(
    'never contain an Authorization or X-Api-Key header, refused requests included (LOG_CONTENT=%s)',
    async (logContent) => {
      const lines: string[] = [];
      const t = await startTestApp(
        { LOG_LEVEL: 'info', LOG_CONTENT: String(logContent), API_KEYS: API_KEY },
        { logLines: lines },
      );
      try {
        const answered = await t.post(
          '/v1/sentiment',
          { text: SECRET },
          { authorization: `Bearer ${API_KEY}`, 'x-api-key': API_KEY },
        );
        const refused = await t.post('/v1/sentiment', { text: SECRET }, { authorization: 'Bearer wrong-key-5c1e' });
        expect([answered.statusCode, refused.statusCode]).toEqual([200, 401]);
      } finally {
        await t.close();
      }
      const requests = lines.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'request');
      expect(requests.map((r) => r.status)).toEqual([200, 401]);
      const logged = lines.join('\n');
      expect(logged).not.toContain(API_KEY);
      expect(logged).not.toContain('wrong-key-5c1e');
      expect(logged.includes('4111')).toBe(logContent);
    },
  );
});

describe('lines logged while a request runs', () => {
  it('carry its requestId, so an unexpected error is tied to its request line', async () => {
    const lines: string[] = [];
    const t = await startTestApp({ LOG_LEVEL: 'info' }, { logLines: lines });
    try {
      jest.spyOn(t.app.get(ChatService), 'reply').mockRejectedValue(new Error('decoder state lost'));
      const response = await t.post('/v1/chat', { messages: [{ role: 'user', content: 'hi' }] });
      expect(response.statusCode).toBe(500);
    } finally {
      await t.close();
    }
    const logged = lines.map((line) => JSON.parse(line));
    const failure = logged.find((entry) => entry.event === 'unhandled_error');
    const request = logged.find((entry) => entry.event === 'request');
    expect(failure).toMatchObject({ level: 'error', error: 'decoder state lost', requestId: expect.any(String) });
    expect(request).toMatchObject({ status: 500, requestId: failure.requestId });
  });
});
