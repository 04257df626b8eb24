import { chatMlTemplate } from '../../src/modules/model/chatml.js';
import { InferenceService } from '../../src/modules/model/inference.service.js';
import { RequestAbortedError } from '../../src/modules/model/model.errors.js';
import { CLASSIFIER_SYSTEM_PROMPT, classifyQuestion, MESSAGE_LEAD } from '../../src/prompts/layouts.js';
import { sentimentTask, SENTIMENT_LABELS } from '../../scripts/lib/builtin-tasks.js';
import { watchDecodeBatches } from '../support/decode-batch-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

// Four texts of different lengths: a round pads them to one.
const TEXTS = [PROBE_TEXTS[0], PROBE_TEXTS[2], PROBE_TEXTS[4], PROBE_TEXTS[5]];
/** A window no test waits out (the tests' own timeouts are shorter): a round that needs it never starts. */
const WINDOW_NOBODY_WAITS_OUT = '60000';

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('single classifications gathered into rounds (SENTIMENT_BATCHING=throughput)', () => {
  let t: TestApp;
  let deterministic: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      SEQUENCES: '4',
      SENTIMENT_BATCHING: 'throughput',
      BATCHING_WINDOW_MS: WINDOW_NOBODY_WAITS_OUT,
    });
    deterministic = await startTestApp({ SEQUENCES: '4' });
  });
  afterAll(async () => {
    await t.close();
    await deterministic.close();
  });

  it('starts a lone request at once, not after the window', async () => {
    const res = await t.post('/v1/sentiment', { text: TEXTS[0] });
    expect(res.statusCode).toBe(200);
  }, 10_000);

  it('evaluates requests arriving together as one decode: sequences in id order, padded to one length', async () => {
    // Every sequence busy: the four requests wait in line, so all four are on their way before any
    // can join. The sequences come free in the order 2, 0, 1, 3.
    const { pool } = t.models;
    const finish: Array<() => void> = [];
    const held = [0, 1, 2, 3].map(() =>
      pool.useSeveral([], 1, () => new Promise<void>((resolve) => finish.push(resolve))),
    );
    await until(() => finish.length === 4);
    const watch = watchDecodeBatches(t.models);
    const replies = TEXTS.map((text) => t.post('/v1/sentiment', { text }));
    await until(() => pool.queued === 4);
    for (const sequence of [2, 0, 1, 3]) {
      finish[sequence]();
      await held[sequence];
    }
    const gathered = (await Promise.all(replies)).map((res) => (expect(res.statusCode).toBe(200), res.json()));
    watch.stop();
    // The texts' first evaluations (text, question and filler): the only decodes of several sequences
    // of more than one token each (system prompts go one sequence at a time).
    // node-llama-cpp cuts the round at BATCH_SIZE tokens; each cut still holds every sequence alike.
    const rounds = watch.batches.filter((batch) => batch.length > 1 && batch.some((part) => part.tokens > 1));
    expect(rounds.length).toBeGreaterThan(0);
    for (const batch of rounds) {
      expect(batch.map((part) => part.sequence)).toEqual([0, 1, 2, 3]);
      expect(new Set(batch.map((part) => part.tokens)).size).toBe(1);
    }
    // One round: each sequence's tokens in these decodes are the longest prompt after the system prompt.
    const { prefix } = chatMlTemplate(t.models.model).classification(
      CLASSIFIER_SYSTEM_PROMPT,
      MESSAGE_LEAD,
      TEXTS[0],
      classifyQuestion(sentimentTask, sentimentTask.labels),
    );
    const longest = Math.max(...gathered.map((reply) => reply.usage.promptTokens));
    expect(rounds.reduce((sum, batch) => sum + batch[0].tokens, 0)).toBe(longest - prefix.length);

    const batch = (await t.post('/v1/sentiment/batch', { items: TEXTS.map((text) => ({ text })) })).json().results;
    for (const [item, text] of TEXTS.entries()) {
      const single = (await deterministic.post('/v1/sentiment', { text })).json();
      expect(SENTIMENT_LABELS).toContain(gathered[item].label);
      expect(gathered[item].label).toBe(batch[item].label);
      expect(gathered[item].label).toBe(single.label);
      // Other batch shapes round differently.
      expect(gathered[item].confidence).toBeCloseTo(batch[item].confidence, 2);
      expect(gathered[item].confidence).toBeCloseTo(single.confidence, 2);
    }
  });

  it('keeps errors per request: one member aborted, the others get their own answers', async () => {
    const classify = (app: TestApp, text: string, signal: AbortSignal) =>
      app.app.get(InferenceService).classify(
        {
          system: CLASSIFIER_SYSTEM_PROMPT,
          lead: MESSAGE_LEAD,
          texts: [text],
          questions: [
            {
              prompt: classifyQuestion(sentimentTask, sentimentTask.labels),
              labels: SENTIMENT_LABELS,
              maxInputTokens: sentimentTask.maxInputTokens,
            },
          ],
        },
        signal,
      );
    const alone = [];
    for (const text of TEXTS) alone.push(await classify(deterministic, text, new AbortController().signal));
    // The round of four starts (every sequence has a member) and waits for its turn at the decode lock.
    const lock = t.models.decodeLock;
    const release = await lock.exclusive();
    let turnsAsked = 0;
    const shared = lock.shared.bind(lock);
    lock.shared = () => (turnsAsked++, shared());
    const aborted = new AbortController();
    const results = TEXTS.map((text, i) =>
      classify(t, text, i === 1 ? aborted.signal : new AbortController().signal).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
    await until(() => turnsAsked === 4);
    lock.shared = shared;
    aborted.abort('client gone');
    release();
    const settled = await Promise.all(results);
    expect(settled[1]).toEqual({ error: expect.any(RequestAbortedError) });
    for (const i of [0, 2, 3]) {
      const { value } = settled[i] as { value: Awaited<ReturnType<typeof classify>> };
      expect(value[0].answers[0].chosen).toBe(alone[i][0].answers[0].chosen);
      expect(value[0].promptTokens).toBe(alone[i][0].promptTokens);
    }
  });
});

describe('generation steps of concurrent chats', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '4', CHAT_MAX_TOKENS: '12' });
  });
  afterAll(() => t.close());

  it('reach llama.cpp in ascending sequence order, whatever order they are ready in', async () => {
    const watch = watchDecodeBatches(t.models);
    const replies = await Promise.all(
      [0, 1, 2, 3].map((i) => t.post('/v1/chat', { messages: [{ role: 'user', content: `Where is order ${i}?` }] })),
    );
    watch.stop();
    for (const reply of replies) expect(reply.statusCode).toBe(200);
    const shared = watch.batches.filter((batch) => batch.length > 1);
    expect(shared.length).toBeGreaterThan(0);
    for (const batch of shared) {
      const sequences = batch.map((part) => part.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    }
  });
});
