import { startTestApp } from '../support/test-app.js';

const SECRET = 'my card number is 4111 1111 1111 1111';

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
