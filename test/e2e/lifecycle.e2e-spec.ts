import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, TINY_MODEL } from '../support/test-app.js';

describe('readiness', () => {
  it('is 503 until the model is loaded, then 200; liveness is 200 throughout', async () => {
    const t = await startTestApp({}, { load: false });
    try {
      const before = await t.get('/health/ready');
      expect(before.statusCode).toBe(503);
      expect(before.json()).toMatchObject({
        status: 'error',
        error: { model: { status: 'down', state: 'not_loaded' } },
      });
      expect((await t.get('/health/live')).statusCode).toBe(200);
      const early = await t.post('/v1/sentiment', { text: 'too early' });
      expect(early.statusCode).toBe(503);
      expect(early.headers['retry-after']).toBe('1');
      expect(early.json().message).toMatch(/not ready \(not_loaded\)/);

      await t.models.load();
      const after = await t.get('/health/ready');
      expect(after.statusCode).toBe(200);
      expect(after.json()).toMatchObject({
        status: 'ok',
        info: { model: { status: 'up', state: 'ready', sequences: 4 } },
      });
      expect((await t.post('/v1/sentiment', { text: 'now' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('startup of the real entry point (dist/main.js)', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['dist/main.js'], {
      env: { PATH: process.env.PATH, PORT: '0', ...env },
      encoding: 'utf8',
      timeout: 30000,
    });

  it('exits non-zero with one line naming the path and what to do when the model file is missing', () => {
    const run = start({ MODEL_PATH: '/nonexistent/model.gguf' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/Model file not found: \/nonexistent\/model\.gguf\. .*set MODEL_PATH/);
    expect(run.stdout).toBe('');
  });

  it('exits non-zero with one line when the model file is corrupt', () => {
    const corrupt = join(mkdtempSync(join(tmpdir(), 'duet-')), 'corrupt.gguf');
    writeFileSync(corrupt, Buffer.alloc(4096, 7));
    const run = start({ MODEL_PATH: corrupt });
    expect(run.status).toBe(2);
    const errorLines = run.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('duet:'));
    expect(errorLines).toEqual([expect.stringMatching(new RegExp(`^duet: Could not load model ${corrupt}: `))]);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.each([
    ['PORT', 'eighty'],
    ['THREADS', '0'],
    ['SEQUENCES', '1000'],
    ['LOG_CONTENT', 'maybe'],
    ['CHAT_MAX_TOKENS', '100000'],
    ['SENTIMENT_BATCHING', 'fast'],
  ])('refuses an invalid %s with a message naming it', (name, value) => {
    const run = start({ MODEL_PATH: TINY_MODEL, [name]: value });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^duet: Invalid configuration: ${name}="${value}"`));
  });
});
