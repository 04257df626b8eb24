import type { ControlledEvaluateIndexOutput, ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { chooseLabel, LabelVocabulary, softmax, type ScoringSequence, type VocabularyModel } from './label-scoring.js';

/** A vocabulary of a few pieces; END is its one end-of-generation token. */
const PIECES = ['pos', 'positive', 'n', 'neg', 'egative', 'eutral', 'neutral', '<end>', 'no', ' sure', 't', 'x', 'not'];
const id = (piece: string) => PIECES.indexOf(piece) as Token;
const END = id('<end>');

const model: VocabularyModel = {
  fileInfo: { metadata: { tokenizer: { ggml: { tokens: { length: PIECES.length } } } } },
  isEogToken: (token) => token === END,
  detokenize: (tokens) => tokens.map((token) => PIECES[token]).join(''),
};

/** The prompt's last token; the logits after it are the first read. */
const PROMPT_END = id('x');

/**
 * A sequence whose logits after each token come from `table` (0 for a token not listed), and which
 * keeps its evaluated tokens, so erasing can be checked.
 */
class ScriptedSequence implements ScoringSequence {
  readonly tokens: Token[] = [];
  readonly evaluations: Token[][] = [];

  constructor(private readonly table: Record<string, Record<string, number>>) {}

  get nextTokenIndex(): number {
    return this.tokens.length;
  }

  async controlledEvaluate(items: ControlledEvaluateInputItem[]) {
    const outputs: Array<ControlledEvaluateIndexOutput | undefined> = [];
    this.evaluations.push(items.map((item) => (Array.isArray(item) ? item[0] : item)));
    items.forEach((item, index) => {
      const token = Array.isArray(item) ? item[0] : item;
      this.tokens.push(token);
      if (!Array.isArray(item)) return;
      const { logits } = item[1].generateNext!;
      const candidates = typeof logits === 'object' ? logits.filter.tokens : [];
      const row = this.table[PIECES[token]] ?? {};
      outputs[index] = { next: { logits: new Map(candidates.map((c: Token) => [c, row[PIECES[c]] ?? 0])) } };
    });
    return outputs;
  }

  async eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void> {
    for (const { start, end } of ranges) this.tokens.splice(start, end - start);
  }
}

const SENTIMENT = ['positive', 'negative', 'neutral'];
const PROMPT = [id('t'), PROMPT_END];

describe('LabelVocabulary', () => {
  const vocabulary = new LabelVocabulary(model);

  it('allows the tokens that start a label, and after a whole label that another extends, the end tokens too', () => {
    expect(vocabulary.allowedAfter('', SENTIMENT).map((t) => PIECES[t])).toEqual([
      'pos',
      'positive',
      'n',
      'neg',
      'neutral',
    ]);
    expect(vocabulary.allowedAfter('n', SENTIMENT).map((t) => PIECES[t])).toEqual(['egative', 'eutral']);
    expect(vocabulary.allowedAfter('no', ['no', 'not sure']).map((t) => PIECES[t])).toEqual(['<end>', 't']);
    expect(vocabulary.allowedAfter('not', ['no', 'not sure']).map((t) => PIECES[t])).toEqual([' sure']);
  });
});

describe('chooseLabel', () => {
  it('takes the label the best first token starts, from one evaluation, and scores each label by its best first token', async () => {
    const sequence = new ScriptedSequence({ x: { pos: 1, positive: 3, n: 2, neg: 2.5, neutral: 0.5 } });
    const choice = await chooseLabel(sequence, PROMPT, SENTIMENT, new LabelVocabulary(model));
    expect(choice).toEqual({ chosen: 0, scores: [3, 2.5, 2] });
    expect(sequence.evaluations).toHaveLength(1);
  });

  it('evaluates a token that starts several labels and takes the best continuation', async () => {
    const sequence = new ScriptedSequence({ x: { n: 5, pos: 1 }, n: { egative: 1, eutral: 2 } });
    const choice = await chooseLabel(sequence, PROMPT, SENTIMENT, new LabelVocabulary(model));
    expect(choice.chosen).toBe(2);
    expect(sequence.evaluations).toEqual([PROMPT, [id('n')]]);
    expect(choice.scores).toEqual([1, 5, 5]);
  });

  it('ends on a whole label that another extends when the end token is best, and goes on when a continuation is', async () => {
    const labels = ['no', 'not sure'];
    const ends = new ScriptedSequence({ x: { no: 4 }, no: { '<end>': 3, t: 1 } });
    expect((await chooseLabel(ends, PROMPT, labels, new LabelVocabulary(model))).chosen).toBe(0);
    const goesOn = new ScriptedSequence({ x: { no: 4 }, no: { '<end>': 1, t: 3 } });
    expect((await chooseLabel(goesOn, PROMPT, labels, new LabelVocabulary(model))).chosen).toBe(1);
  });

  it('breaks ties toward the lowest token id, as llama.cpp greedy sampling does', async () => {
    const sequence = new ScriptedSequence({ x: { pos: 2, n: 2 } });
    expect((await chooseLabel(sequence, PROMPT, SENTIMENT, new LabelVocabulary(model))).chosen).toBe(0);
  });

  it('pads after the prompt with filler tokens, and leaves the sequence holding the prompt only', async () => {
    const sequence = new ScriptedSequence({ x: { n: 5 }, n: { egative: 2 } });
    await chooseLabel(sequence, PROMPT, SENTIMENT, new LabelVocabulary(model), 3);
    expect(sequence.evaluations[0]).toEqual([...PROMPT, PROMPT_END, PROMPT_END, PROMPT_END]);
    expect(sequence.tokens).toEqual(PROMPT);
  });
});

describe('softmax', () => {
  it('sums to one and keeps the order of the scores', () => {
    const probabilities = softmax([2, 1, 0]);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(probabilities[0]).toBeGreaterThan(probabilities[1]);
    expect(probabilities[1]).toBeGreaterThan(probabilities[2]);
  });
});
