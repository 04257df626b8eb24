import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenBytes } from '../../src/modules/model/tokens/token-bytes.js';
import { ChatService } from '../../src/modules/tasks/chat.service.js';
import { ClassifyService } from '../../src/modules/tasks/classify.service.js';
import { TasksReloadService } from '../../src/modules/tasks/tasks-reload.service.js';
import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const user = (content: string) => ({ role: 'user', content });

/** Counts reads of token bytes: a label-vocabulary scan reads every token's (151,936 for Qwen2). */
function watchVocabularyScans() {
  const seen = { tokenReads: 0 };
  const of = TokenBytes.prototype.of;
  const spy = jest.spyOn(TokenBytes.prototype, 'of').mockImplementation(function (this: TokenBytes, token) {
    seen.tokenReads++;
    return of.call(this, token);
  });
  return { seen, restore: () => spy.mockRestore() };
}

/** Holds one call of a service's `warm` until released; resolves `entered` when it is reached. */
type Warm = (...args: unknown[]) => Promise<void>;

function holdWarmUp(service: ClassifyService | ChatService) {
  let release!: () => void;
  let entered!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const warmable = service as unknown as { warm: Warm };
  const warm = warmable.warm.bind(service);
  const spy = jest.spyOn(warmable, 'warm').mockImplementation(async (...args: unknown[]) => {
    entered();
    await released;
    return warm(...args);
  });
  return { reached, release, spy };
}

describe('readiness means warm', () => {
  it('says "warming" with progress until every task is warm, and task routes answer 503 meanwhile', async () => {
    const t = await startTestApp({}, { load: false });
    try {
      const chatWarmUp = holdWarmUp(t.app.get(ChatService));
      const loading = t.models.load();
      await chatWarmUp.reached; // sentiment is warm, chat is next

      const warming = await t.get('/health/ready');
      expect(warming.statusCode).toBe(503);
      expect(warming.json().error.model).toMatchObject({
        status: 'down',
        state: 'warming',
        warmUp: { warmed: 1, total: 2 },
      });
      for (const [url, body] of [
        ['/v1/sentiment', { text: 'too early' }],
        ['/v1/chat', { messages: [user('too early')] }],
      ] as const) {
        const early = await t.post(url, body);
        expect(early.statusCode).toBe(503);
        expect(early.headers['retry-after']).toBe('1');
        expect(early.json().message).toMatch(/not ready \(warming\)/);
      }

      chatWarmUp.release();
      await loading;
      const ready = await t.get('/health/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json().info.model).toMatchObject({ status: 'up', state: 'ready' });
      expect(ready.json().info.model.warmUp).toBeUndefined();
      expect((await t.post('/v1/sentiment', { text: 'now' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('logs and exports each task warm-up, and counts no tokens for it', async () => {
    const logLines: string[] = [];
    const t = await startTestApp({ LOG_LEVEL: 'info' }, { logLines });
    try {
      const warmed = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.event === 'task_warmed');
      expect(warmed).toEqual([
        expect.objectContaining({ task: 'sentiment', kind: 'classify', ms: expect.any(Number) }),
        expect.objectContaining({ task: 'chat', kind: 'chat', ms: expect.any(Number) }),
      ]);
      const metrics = (await t.get('/metrics')).body;
      expect(metrics).toMatch(/^duet_task_warmup_seconds\{task="sentiment"\} [\d.e-]+$/m);
      expect(metrics).toMatch(/^duet_task_warmup_seconds\{task="chat"\} [\d.e-]+$/m);
      expect(metrics).not.toMatch(/^duet_tokens_total\{/m);
    } finally {
      await t.close();
    }
  });

  it('spares the first request of each task the prefix evaluation and the vocabulary scan', async () => {
    const t = await startTestApp();
    const scans = watchVocabularyScans();
    try {
      const lock = watchDecodeLock(t);
      // Sentiment (question-first) takes one exclusive turn for a short text (the text and the end
      // of its turn); a prefix evaluation would be a second. Chat's steps take the lock shared;
      // only its prefix would not.
      expect((await t.post('/v1/sentiment', { text: 'The parcel came late.' })).statusCode).toBe(200);
      expect(lock.exclusive).toBe(1);
      expect((await t.post('/v1/chat', { messages: [user('Where is my parcel?')] })).statusCode).toBe(200);
      expect(lock.exclusive).toBe(1);
      // A subset of the default labels needs no scan either: each label's continuations are known.
      const subset = await t.post('/v1/sentiment', { text: 'Fine.', labels: ['positive', 'negative'] });
      expect(subset.statusCode).toBe(200);
      expect(scans.seen.tokenReads).toBe(0);
    } finally {
      scans.restore();
      await t.close();
    }
  });
});

describe('a tasks-file reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-warm-'));
  const TASKS_FILE = join(dir, 'tasks.yaml');
  const withTask = (name: string, labels: string) =>
    `tasks:\n  - name: ${name}\n    kind: classify\n    instruction: Which kind of ticket is this?\n    labels: [${labels}]\n`;
  let t: TestApp;

  beforeAll(async () => {
    writeFileSync(TASKS_FILE, withTask('kind', 'question, complaint'));
    t = await startTestApp({ TASKS_FILE });
  });
  afterAll(() => t.close());

  it('warms the tasks it adds before serving them, staying ready meanwhile; the others are not warmed again', async () => {
    const classifier = t.app.get(ClassifyService);
    const warmUp = holdWarmUp(classifier);
    writeFileSync(
      TASKS_FILE,
      withTask('kind', 'question, complaint') + withTask('topic', 'billing, shipping').slice(7),
    );
    const reloading = t.app.get(TasksReloadService).reload();
    await warmUp.reached;
    expect((await t.get('/health/ready')).statusCode).toBe(200);
    expect((await t.post('/v1/classify/topic', { text: 'Where is it?' })).statusCode).toBe(404);
    expect((await t.post('/v1/classify/kind', { text: 'Where is it?' })).statusCode).toBe(200);
    warmUp.release();
    expect(await reloading).toBeDefined();
    expect(warmUp.spy.mock.calls.map(([task]) => (task as { name: string }).name)).toEqual(['topic']);

    const scans = watchVocabularyScans();
    try {
      const lock = watchDecodeLock(t);
      // topic is text-first: its text, then its question.
      expect((await t.post('/v1/classify/topic', { text: 'Where is it?' })).statusCode).toBe(200);
      expect(lock.exclusive).toBe(2);
      expect(scans.seen.tokenReads).toBe(0);
    } finally {
      scans.restore();
    }
  });
});
