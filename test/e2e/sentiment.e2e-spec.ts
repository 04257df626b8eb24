import { SENTIMENT_LABELS } from '../support/builtin-tasks.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

describe('POST /v1/sentiment (tiny model)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it.each([
    ['English', 'The crew was friendly and the flight left on time.'],
    ['Chinese', '房间很干净，服务也很周到，下次还会再来。'],
  ])('classifies %s text into one of the three labels with a confidence', async (_language, text) => {
    const res = await t.post('/v1/sentiment', { text });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['confidence', 'label', 'model', 'scores', 'task', 'usage']);
    expect(Object.keys(body.scores)).toEqual(SENTIMENT_LABELS);
    expect(Object.values<number>(body.scores).reduce((a, b) => a + b)).toBeCloseTo(1, 10);
    expect(body.scores[body.label]).toBe(body.confidence);
    expect(SENTIMENT_LABELS).toContain(body.label);
    expect(body.confidence).toBeGreaterThan(1 / 3); // the winner of a softmax over three labels
    expect(body.confidence).toBeLessThanOrEqual(1);
    expect(body.usage.promptTokens).toBeGreaterThan(10);
    expect(body.model).toBe('duet-fixture-tiny-seed20261123');
  });

  it('stays inside a binary label set for every probe text', async () => {
    for (const text of PROBE_TEXTS) {
      const body = (await t.post('/v1/sentiment', { text, labels: ['positive', 'negative'] })).json();
      expect(['positive', 'negative']).toContain(body.label);
      expect(body.confidence).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('gives different texts different scores (the answer depends on the input)', async () => {
    // The tiny model's random weights favour one label for most texts, so the scores, not the
    // labels, show that the text was read.
    const scores = new Set<string>();
    for (const text of PROBE_TEXTS) scores.add(JSON.stringify((await t.post('/v1/sentiment', { text })).json().scores));
    expect(scores.size).toBe(PROBE_TEXTS.length);
  });

  it('is deterministic: the same text gets the same label and confidence, bit for bit', async () => {
    const first = (await t.post('/v1/sentiment', { text: PROBE_TEXTS[0] })).json();
    const second = (await t.post('/v1/sentiment', { text: PROBE_TEXTS[0] })).json();
    expect(second).toEqual(first);
  });

  it('batch returns results in input order, equal to one-by-one calls', async () => {
    const items = PROBE_TEXTS.map((text, i) => (i % 2 ? { id: `item-${i}`, text } : { text }));
    const res = await t.post('/v1/sentiment/batch', { items, labels: ['negative', 'neutral'] });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results).toHaveLength(items.length);
    for (const [i, item] of items.entries()) {
      const single = (await t.post('/v1/sentiment', { text: item.text, labels: ['negative', 'neutral'] })).json();
      expect(results[i]).toEqual({
        id: item.id ?? String(i),
        label: single.label,
        confidence: single.confidence,
        scores: single.scores,
      });
    }
  });

  it('accepts a full batch of 64 items', async () => {
    const items = Array.from({ length: 64 }, (_, i) => ({ text: PROBE_TEXTS[i % PROBE_TEXTS.length] }));
    const res = await t.post('/v1/sentiment/batch', { items });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toHaveLength(64);
  });
});
