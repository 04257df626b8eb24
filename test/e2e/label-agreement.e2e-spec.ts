import { join } from 'node:path';
import { loadDevSets } from '../support/dev-sets.js';
import { GrammarLabeler } from '../support/grammar-labels.js';
import { classificationPrompt } from '../support/builtin-tasks.js';
import type { ClassifyTask } from '../../src/prompts/task-definitions.js';
import { loadTasks } from '../../src/prompts/tasks-file.js';
import { startTestApp, TestApp } from '../support/test-app.js';

const TASKS_FILE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'labels.yaml');

// 30 rows of each dev set in ../shared/data, kept in the repository so the test runs anywhere.
const DEV_SETS = loadDevSets(join(import.meta.dirname, '..', 'fixtures', 'dev-sample'));

describe('single-pass label scoring', () => {
  const allTexts = DEV_SETS.flatMap((set) => set.rows.map((row) => row.text));
  let t: TestApp;
  let grammar: GrammarLabeler;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '2', TASKS_FILE });
    grammar = await GrammarLabeler.open(t.models.model);
  });
  afterAll(async () => {
    await grammar.close();
    await t.close();
  });

  it.each(DEV_SETS.map((set) => [set.name, set] as const))(
    'agrees with grammar-constrained greedy decoding on %s',
    async (_name, set) => {
      const service: string[] = [];
      const reference: string[] = [];
      for (const { text } of set.rows) {
        const res = await t.post('/v1/sentiment', { text, labels: set.labels });
        expect(res.statusCode).toBe(200);
        service.push(res.json().label);
        const prompt = classificationPrompt(t.models.model, text, set.labels);
        reference.push(await grammar.label(prompt, set.labels));
      }
      expect(service).toEqual(reference);
      expect(new Set(reference).size).toBeGreaterThan(1); // the texts really are told apart
    },
  );

  it.each([
    // Labels sharing first tokens, and one in another script whose first token may be part of a
    // character (scored by bytes, as the grammar matches them; by text it was never chosen).
    ['department', ['billing', 'bill', 'bill dispute', 'technical', '物流'], '物流'],
    // One label a prefix of others: after "no" the grammar may end there or go on.
    ['answer', ['no', 'not sure', 'nothing to refund', 'yes'], 'no'],
  ])(
    'agrees with grammar-constrained greedy decoding on the %s task',
    async (name, labels, expectedAmong) => {
      const task = loadTasks({ file: TASKS_FILE }).find((candidate) => candidate.name === name) as ClassifyTask;
      const service: string[] = [];
      const reference: string[] = [];
      for (const text of allTexts) {
        const res = await t.post(`/v1/classify/${name}`, { text });
        expect(res.statusCode).toBe(200);
        service.push(res.json().label);
        reference.push(await grammar.label(classificationPrompt(t.models.model, text, labels, task), labels));
      }
      expect(service).toEqual(reference);
      expect(new Set(reference).size).toBeGreaterThan(1);
      // The seeded model does choose the case's label, so its path is exercised.
      expect(reference).toContain(expectedAmong);
      // 120 texts, each also decoded under a grammar: ~20 s alone, longer on a shared machine.
    },
    180_000,
  );
});
