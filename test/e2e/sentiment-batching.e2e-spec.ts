import { SENTIMENT_LABELS } from '../support/builtin-tasks.js';
import { DEFAULT_BATCH_SIZE } from '../../src/config/environment.js';
import { DecodeBatch, watchDecodeBatches } from '../support/decode-batch-watch.js';
import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

const items = (count: number) =>
  Array.from({ length: count }, (_, i) => ({ text: `${PROBE_TEXTS[i % PROBE_TEXTS.length]} ${i}` }));

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('batch endpoint', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Places in line are under test, not deadlines: on a loaded machine the warm-up's estimate
    // can put 64 items past the default 30 s, and the batch would be refused before it queued.
    t = await startTestApp({ SEQUENCES: '1', MAX_QUEUE: '1', REQUEST_TIMEOUT_MS: '600000' });
  });
  afterAll(() => t.close());

  it('takes one place in the queue for all its items', async () => {
    const { pool, decodeLock } = t.scheduler;
    const release = await decodeLock.exclusive(); // holds every decode back
    const first = t.post('/v1/sentiment', { text: 'first' });
    await until(() => pool.busy === 1);
    const batch = t.post('/v1/sentiment/batch', { items: items(64) });
    await until(() => pool.queued === 1);
    const refused = await t.post('/v1/sentiment', { text: 'one too many' });
    release();
    expect(refused.statusCode).toBe(503);
    expect((await first).statusCode).toBe(200);
    const done = await batch;
    expect(done.statusCode).toBe(200);
    expect(done.json().results).toHaveLength(64);
  });
});

describe('SENTIMENT_BATCHING=throughput', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Rounds over every sequence: none kept for the chat task (traffic classes are tested apart).
    t = await startTestApp({ SEQUENCES: '4', INTERACTIVE_SEQUENCES: '0', SENTIMENT_BATCHING: 'throughput' });
  });
  afterAll(() => t.close());

  it('spreads a batch over the idle sequences, whose classifications share decode batches', async () => {
    await t.post('/v1/sentiment', { text: 'warm the system prompt' });
    const seen = watchDecodeLock(t);
    const res = await t.post('/v1/sentiment/batch', { items: items(12) });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results).toHaveLength(12);
    for (const { label, confidence } of results) {
      expect(SENTIMENT_LABELS).toContain(label);
      expect(confidence).toBeGreaterThan(0);
      expect(confidence).toBeLessThanOrEqual(1);
    }
    expect(seen.shared).toBeGreaterThanOrEqual(12);
    expect(seen.exclusive).toBeLessThanOrEqual(3); // only system prompts of sequences that did not hold it yet
    expect(seen.maxConcurrentShared).toBeGreaterThan(1);
  });

  it('evaluates a batch in rounds: prompts padded to one length, sequences in id order, split only at BATCH_SIZE', async () => {
    // The sequences fall idle in the order 2, 0, 1, 3, which is the order a batch would take them in.
    const { pool } = t.scheduler;
    const finish: Array<() => void> = [];
    const held = [0, 1, 2, 3].map(() =>
      pool.useSeveral([], 1, () => new Promise<void>((resolve) => finish.push(resolve))),
    );
    await until(() => finish.length === 4);
    for (const sequence of [2, 0, 1, 3]) {
      finish[sequence]();
      await held[sequence];
    }
    const watch = watchDecodeBatches(t.models);
    const res = await t.post('/v1/sentiment/batch', { items: items(12) });
    watch.stop();
    expect(res.statusCode).toBe(200);
    // Prompt micro-batches: not the system prompts (one sequence each) nor a second label step (one
    // token each, where the first token starts two labels).
    const microBatches = watch.batches.filter((batch) => batch.length > 1 && batch.some((part) => part.tokens > 1));
    const size = (batch: DecodeBatch) => batch.reduce((sum, part) => sum + part.tokens, 0);
    for (const batch of microBatches) {
      expect(batch.map((part) => part.sequence)).toEqual([0, 1, 2, 3]);
      expect(new Set(batch.map((part) => part.tokens)).size).toBe(1);
      expect(size(batch)).toBeLessThanOrEqual(DEFAULT_BATCH_SIZE);
    }
    // node-llama-cpp splits a round over BATCH_SIZE into a full micro-batch and the rest, which
    // goes on where the full one ended; a new round starts over after the sequence's prefix.
    const roundLengths: number[] = [];
    microBatches.forEach((batch, i) => {
      const previous = microBatches[i - 1]?.[0];
      const continues = previous !== undefined && previous.first + previous.tokens === batch[0].first;
      if (continues) roundLengths[roundLengths.length - 1] += batch[0].tokens;
      else roundLengths.push(batch[0].tokens);
    });
    expect(roundLengths).toHaveLength(3); // 12 items on 4 sequences
    expect(new Set(roundLengths).size).toBe(3); // the texts' lengths differ: padding was needed
    expect(roundLengths.some((length) => 4 * length > DEFAULT_BATCH_SIZE)).toBe(true); // one round was split
  });

  it('gives a batch the labels and confidences of the same texts classified one at a time', async () => {
    const batch = (await t.post('/v1/sentiment/batch', { items: items(12) })).json().results;
    for (const [item, { text }] of items(12).entries()) {
      const single = (await t.post('/v1/sentiment', { text })).json();
      expect(batch[item].label).toBe(single.label);
      // Another split (the text and its question in one padded batch) rounds differently.
      expect(batch[item].confidence).toBeCloseTo(single.confidence, 2);
    }
  });
});
