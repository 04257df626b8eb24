import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp';
import { answerQuestions, type SharedBatchOptions } from './answer-questions.js';
import { LabelVocabulary, type VocabularyModel } from './label-scoring.js';

/** Tokens 0 and 1 are the labels "a" and "b"; 2 ends generation; the others are text. */
const model: VocabularyModel = {
  fileInfo: { metadata: { tokenizer: { ggml: { tokens: { length: 32 } } } } },
  isEogToken: (token) => token === 2,
  detokenize: (tokens) => tokens.map((token) => (token < 2 ? 'ab'[token] : `<${token}>`)).join(''),
};

/** Keeps its tokens, records each decode's tokens, and always prefers label "a". */
class RecordingSequence {
  readonly tokens: Token[] = [];
  readonly decodes: Token[][] = [];

  get nextTokenIndex(): number {
    return this.tokens.length;
  }

  async evaluateWithoutGeneratingNewTokens(tokens: Token[]): Promise<void> {
    this.decodes.push(tokens);
    this.tokens.push(...tokens);
  }

  async controlledEvaluate(items: ControlledEvaluateInputItem[]) {
    const tokens = items.map((item) => (Array.isArray(item) ? item[0] : item));
    this.decodes.push(tokens);
    this.tokens.push(...tokens);
    return items.map((item) => {
      if (!Array.isArray(item)) return undefined;
      const { logits } = item[1].generateNext!;
      const candidates = typeof logits === 'object' ? logits.filter.tokens : [];
      return { next: { logits: new Map(candidates.map((token: Token) => [token, token === 0 ? 1 : 0])) } };
    });
  }

  async eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void> {
    for (const { start, end } of ranges) this.tokens.splice(start, end - start);
  }
}

const TEXT = [10, 11, 12, 13, 14] as Token[];
const [Q1, Q2] = [[20, 21] as Token[], [22] as Token[]];

async function answer(questions: Token[][], options: SharedBatchOptions) {
  const sequence = new RecordingSequence();
  let turns = 0;
  const turn = async () => {
    turns++;
    return () => {};
  };
  const answers = await answerQuestions(
    sequence as unknown as LlamaContextSequence,
    TEXT,
    questions.map((tokens) => ({ tokens, labels: ['a', 'b'] })),
    new LabelVocabulary(model),
    turn,
    undefined,
    options,
  );
  expect(answers.map(({ chosen }) => chosen)).toEqual(questions.map(() => 0));
  expect(sequence.tokens).toEqual([]); // everything erased back to the prefix (none here)
  return { decodes: sequence.decodes, turns };
}

describe('answerQuestions', () => {
  it('evaluates a shared text in pieces, then each question in a decode and a turn of its own', async () => {
    expect(await answer([Q1, Q2], { chunkTokens: 2 })).toEqual({
      decodes: [[10, 11], [12, 13], [14], Q1, Q2],
      turns: 5,
    });
  });

  it("evaluates a text that is its question's own in one go with the question, in the same pieces", async () => {
    expect(await answer([Q1], { ownText: true, chunkTokens: 3 })).toEqual({
      decodes: [
        [10, 11, 12],
        [13, 14, 20],
        [21], // the last piece is read: the question's logits
      ],
      turns: 3,
    });
    expect(await answer([Q1], { ownText: true })).toEqual({ decodes: [[...TEXT, ...Q1]], turns: 1 });
  });
});
