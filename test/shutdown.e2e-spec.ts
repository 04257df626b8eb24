import { startServerProcess } from '../scripts/lib/server-process.js';
import { TINY_MODEL } from './support/test-app.js';

const chat = (url: string, content: string) =>
  fetch(`${url}/v1/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content }], maxChars: 2000 }),
  });

describe('graceful shutdown of the real process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: in-flight requests get their answers, late ones are refused, the process exits 0 within the drain deadline',
    async (signal) => {
      const server = await startServerProcess(TINY_MODEL, {
        SEQUENCES: '2',
        CHAT_MAX_TOKENS: '80',
        CHAT_MAX_CHARS: '2000',
        SHUTDOWN_DRAIN_MS: '20000',
      });
      const inFlight = [1, 2, 3, 4].map((i) => chat(server.url, `long question ${i}`));
      await new Promise((resolve) => setTimeout(resolve, 150)); // accepted: two decoding, two queued
      const signalled = Date.now();
      server.child.kill(signal);
      const answers = await Promise.all(inFlight);
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      for (const answer of answers)
        expect(
          ((await answer.json()) as { usage: { completionTokens: number } }).usage.completionTokens,
        ).toBeGreaterThan(0);
      const late = await chat(server.url, 'too late').then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(late);
      const exit = await server.exited;
      expect({ ...exit, stderr: server.stderr.join('') }).toEqual({ code: 0, signal: null, stderr: '' });
      expect(Date.now() - signalled).toBeLessThan(20000);
      const events = server.stdout.map((line) => JSON.parse(line).event);
      expect(events).toEqual(expect.arrayContaining(['config', 'shutdown_started', 'shutdown_complete']));
    },
  );

  it('logs the effective configuration once at startup', async () => {
    const server = await startServerProcess(TINY_MODEL, { SEQUENCES: '3' });
    server.child.kill('SIGTERM');
    await server.exited;
    const configs = server.stdout.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'config');
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ sequences: 3, host: '127.0.0.1', maxQueue: 64 });
  });
});
