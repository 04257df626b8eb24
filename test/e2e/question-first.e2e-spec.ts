import type { LlamaContextSequence } from 'node-llama-cpp';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config.js';
import { answerQuestions } from '../../src/modules/model/classification/answer-questions.js';
import { LabelVocabulary } from '../../src/modules/model/classification/label-scoring.js';
import type { ClassifyTask } from '../../src/prompts/task-definitions.js';
import { classificationParts } from '../support/builtin-tasks.js';
import { watchDecodeLock } from '../support/decode-lock-watch.js';
import { PROBE_TEXTS, startTestApp, TestApp } from '../support/test-app.js';

// urgency is question-first there; sentiment and department text-first.
const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage-mixed-layouts.yaml');

/** duet_prefix_cache_lookups_total, by result. */
async function prefixLookups(t: TestApp): Promise<{ hit: number; miss: number }> {
  const metrics = (await t.get('/metrics')).body;
  const count = (result: string) =>
    Number(new RegExp(`^duet_prefix_cache_lookups_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(metrics)![1]);
  return { hit: count('hit'), miss: count('miss') };
}

describe('a question-first task', () => {
  let t: TestApp;
  let urgency: ClassifyTask;
  let labels: string[];
  beforeAll(async () => {
    t = await startTestApp({ TASKS_FILE, SEQUENCES: '1', BATCH_SIZE: '32' });
    urgency = t.app.get(AppConfig).tasks.find((task) => task.name === 'urgency') as ClassifyTask;
    labels = urgency.labels.map((label) => label.name);
  });
  afterAll(() => t.close());

  it('is asked in a triage after its own start, the text evaluated again: usage counts every token', async () => {
    const text = PROBE_TEXTS[0];
    const all = (await t.post('/v1/triage', { text, tasks: ['sentiment', 'urgency', 'department'] })).json();
    const textFirst = (await t.post('/v1/triage', { text, tasks: ['sentiment', 'department'] })).json();
    const alone = (await t.post('/v1/classify/urgency', { text })).json();
    expect(Object.keys(all.results)).toEqual(['sentiment', 'urgency', 'department']);
    expect(all.usage.promptTokens).toBe(textFirst.usage.promptTokens + alone.usage.promptTokens);
    const parts = classificationParts(t.models.model, text, urgency);
    expect(alone.usage.promptTokens).toBe(parts.prefix.length + parts.text.length + parts.question.length);
  });

  it('keeps its start cached whatever label subset is asked, and scores a subset as the full list renormalized', async () => {
    const text = PROBE_TEXTS[1];
    await t.post('/v1/classify/urgency', { text }); // the one sequence now holds urgency's start
    const before = await prefixLookups(t);
    const full = (await t.post('/v1/classify/urgency', { text, minConfidence: 0 })).json();
    const subset = [full.label, labels.find((label) => label !== full.label)!];
    const restricted = (await t.post('/v1/classify/urgency', { text, labels: subset, minConfidence: 0 })).json();
    expect(await prefixLookups(t)).toEqual({ hit: before.hit + 2, miss: before.miss });
    expect(restricted.label).toBe(full.label);
    const shown = subset.reduce((sum, label) => sum + full.scores[label], 0);
    for (const label of subset) expect(restricted.scores[label]).toBeCloseTo(full.scores[label] / shown, 12);
  });

  it('is evaluated with its text in BATCH_SIZE pieces, the last one read: the answer of evaluating it whole', async () => {
    const longText = Array.from({ length: 20 }, (_, i) => `Line ${i}: the site is down again.`).join(' ');
    await t.post('/v1/classify/urgency', { text: 'warm' });
    const parts = classificationParts(t.models.model, longText, urgency);
    expect(parts.text.length).toBeGreaterThan(3 * 32);
    const seen = watchDecodeLock(t);
    const chunked = (await t.post('/v1/classify/urgency', { text: longText })).json();
    // The text and the end of its turn in pieces, one turn each; the prefix is cached, and no turn is the question's alone.
    expect(seen.exclusive).toBe(Math.ceil((parts.text.length + parts.question.length) / 32));
    const vocabulary = new LabelVocabulary(t.models.model, t.models.tokenBytes);
    const whole = await t.scheduler.runGeneration(parts.prefix, ({ sequence }) =>
      answerQuestions(
        sequence as LlamaContextSequence,
        parts.text,
        [{ tokens: parts.question, labels }],
        vocabulary,
        () => t.scheduler.decodeLock.exclusive(),
        undefined,
        { ownText: true },
      ),
    );
    const [{ probabilities }] = whole.result;
    expect(labels.map((label) => chunked.scores[label])).toEqual(probabilities);
  });
});
