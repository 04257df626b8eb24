import type { LlamaContextSequence } from 'node-llama-cpp';
import { answerQuestions } from '../../src/modules/model/classification/answer-questions.js';
import { LabelVocabulary } from '../../src/modules/model/classification/label-scoring.js';
import { join } from 'node:path';
import type { ClassifyTask } from '../../src/prompts/task-definitions.js';
import { loadTasks } from '../../src/prompts/tasks-file.js';
import { classificationParts, SENTIMENT_LABELS } from '../support/builtin-tasks.js';
import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
};
const items = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ text: `Ticket ${i}: the parcel is late.` }));
const TRIAGE_TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml');
const CHAT = { messages: [{ role: 'user', content: 'Hi! Where is my parcel?' }] };

describe('traffic classes', () => {
  describe('one sequence', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ SEQUENCES: '1', CHAT_MAX_TOKENS: '4' });
    });
    afterAll(() => t.close());

    it('shows each task’s class in GET /v1/tasks: chat interactive, classify batch', async () => {
      const { tasks } = (await t.get('/v1/tasks')).json();
      const classOf = Object.fromEntries(tasks.map((task: { name: string; class: string }) => [task.name, task.class]));
      expect(classOf).toEqual({ sentiment: 'batch', chat: 'interactive' });
    });

    it('schedules a batch item by item: a chat that arrives mid-batch is answered before the batch ends', async () => {
      const finished: string[] = [];
      const batch = t.post('/v1/sentiment/batch', { items: items(32) }).then((res) => {
        finished.push('batch');
        return res;
      });
      await until(() => t.scheduler.load().busy === 1);
      const chat = await t.post('/v1/chat', CHAT);
      finished.push('chat');
      expect(chat.statusCode).toBe(200);
      expect((await batch).statusCode).toBe(200);
      expect(finished).toEqual(['chat', 'batch']);
    });

    it('labels queue wait and time to first token by class in /metrics', async () => {
      await t.post('/v1/sentiment', { text: 'fine' });
      await t.post('/v1/chat', CHAT);
      const metrics = (await t.get('/metrics')).body;
      expect(metrics).toMatch(/duet_queue_wait_seconds_count\{task="sentiment",class="batch"\} [1-9]/);
      expect(metrics).toMatch(/duet_time_to_first_token_seconds_count\{task="chat",class="interactive"\} [1-9]/);
    });
  });

  describe('two sequences', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ SEQUENCES: '2', SENTIMENT_BATCHING: 'throughput', CHAT_MAX_TOKENS: '4' });
    });
    afterAll(() => t.close());

    it('keeps one sequence from batch work while an interactive task is served', async () => {
      let mostBusy = 0;
      const watching = setInterval(() => (mostBusy = Math.max(mostBusy, t.scheduler.load().busy)), 1);
      const batch = await t.post('/v1/sentiment/batch', { items: items(8) });
      clearInterval(watching);
      expect(batch.statusCode).toBe(200);
      expect(mostBusy).toBe(1);
      const during = t.post('/v1/sentiment/batch', { items: items(8) });
      await until(() => t.scheduler.load().busy === 1);
      expect((await t.post('/v1/chat', CHAT)).statusCode).toBe(200);
      expect((await during).statusCode).toBe(200);
    });
  });

  describe('a long text, text-first', () => {
    let t: TestApp;
    // The triage fixture's sentiment is text-first (the built-in's question-first is tested apart).
    const sentimentTask = loadTasks({ file: TRIAGE_TASKS_FILE }).find(
      (task) => task.name === 'sentiment',
    ) as ClassifyTask;
    beforeAll(async () => {
      t = await startTestApp({ SEQUENCES: '1', BATCH_SIZE: '32', TASKS_FILE: TRIAGE_TASKS_FILE });
    });
    afterAll(() => t.close());

    const longText = Array.from({ length: 20 }, (_, i) => `Line ${i}: the parcel never came.`).join(' ');

    it('is evaluated in BATCH_SIZE pieces, each its own turn, with the answer of evaluating it whole', async () => {
      await t.post('/v1/sentiment', { text: 'warm' });
      const parts = classificationParts(t.models.model, longText, sentimentTask);
      expect(parts.text.length).toBeGreaterThan(3 * 32);
      const seen = watchDecodeLock(t);
      const chunked = (await t.post('/v1/sentiment', { text: longText })).json();
      // The text's pieces and the question: no prefix (cached), one turn each.
      expect(seen.exclusive).toBe(Math.ceil(parts.text.length / 32) + 1);
      const vocabulary = new LabelVocabulary(t.models.model, t.models.tokenBytes);
      const whole = await t.scheduler.runGeneration(parts.prefix, ({ sequence }) =>
        answerQuestions(
          sequence as LlamaContextSequence,
          parts.text,
          [{ tokens: parts.question, labels: SENTIMENT_LABELS }],
          vocabulary,
          () => t.scheduler.decodeLock.exclusive(),
        ),
      );
      const [{ probabilities }] = whole.result;
      expect(SENTIMENT_LABELS.map((label) => chunked.scores[label])).toEqual(probabilities);
    });
  });
});
