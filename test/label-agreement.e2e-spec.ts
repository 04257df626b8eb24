import { join } from 'node:path';
import { loadDevSets } from '../scripts/lib/dev-sets.js';
import { GrammarLabeler } from '../scripts/lib/grammar-labels.js';
import { renderChatMlPrompt } from '../src/modules/model/chatml.js';
import { sentimentPrompt } from '../src/prompts/sentiment.prompt.js';
import { startTestApp, TestApp } from './support/test-app.js';

// 30 rows of each dev set in ../shared/data, kept in the repository so the test runs anywhere.
const DEV_SETS = loadDevSets(join(import.meta.dirname, 'fixtures', 'dev-sample'));

describe('single-pass label scoring', () => {
  let t: TestApp;
  let grammar: GrammarLabeler;
  beforeAll(async () => {
    t = await startTestApp({ SEQUENCES: '2' });
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
        const prompt = renderChatMlPrompt(t.models.model, sentimentPrompt.buildTurns({ text, labels: set.labels }));
        reference.push(await grammar.label(prompt, set.labels));
      }
      expect(service).toEqual(reference);
      expect(new Set(reference).size).toBeGreaterThan(1); // the texts really are told apart
    },
  );
});
