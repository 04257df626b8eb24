import type { Token } from 'node-llama-cpp';
import { InputTooLongError } from '../model.errors.js';
import { PromptBudget } from '../prompt-budget.js';
import type { ChatMlTemplate } from '../tokens/chatml.js';
import { partCount, tokenizeClassification } from './classification-prompt.js';
import type { LabelQuestion } from './classification.types.js';

/** One token per character; the template's own tokens are negative, so the parts are easy to read. */
const chars = (text: string) => [...text].map((char) => char.codePointAt(0)! as Token);
const [START, END] = [-1 as Token, -2 as Token];
const template = {
  classificationStart: (system: string, lead: string) => [START, ...chars(system), START, ...chars(lead)],
  classificationText: (text: string, trail: string) => [...chars(text), ...chars(trail)],
  classificationQuestion: (question: string) => [...chars(question), END],
} as unknown as ChatMlTemplate;

const textFirst = (prompt: string, labels = ['a', 'b']): LabelQuestion => ({
  system: 'S',
  lead: 'M:',
  trail: '?',
  prompt,
  labels,
  maxInputTokens: 64,
});
const questionFirst = (system: string, maxInputTokens = 64): LabelQuestion => ({
  system,
  lead: '',
  trail: '',
  prompt: '',
  ownText: true,
  labels: ['x', 'y'],
  maxInputTokens,
});

describe('tokenizeClassification', () => {
  const tokenize = (questions: LabelQuestion[], texts = ['hi']) =>
    tokenizeClassification(template, { texts, questions }, new PromptBudget(Infinity));

  it('asks every question of one start after one evaluation of the text, in the order asked', () => {
    const [part] = tokenize([textFirst('q1'), textFirst('q2', ['c', 'd'])], ['hi', 'yo']);
    expect(part).toEqual({
      prefix: [START, ...chars('S'), START, ...chars('M:')],
      texts: [chars('hi?'), chars('yo?')],
      questions: [
        { tokens: [...chars('q1'), END], labels: ['a', 'b'] },
        { tokens: [...chars('q2'), END], labels: ['c', 'd'] },
      ],
      asked: [0, 1],
      ownText: false,
    });
  });

  it('gives each own-text question a part of its own, even beside an equal one, and keeps the places asked', () => {
    const questions = [questionFirst('A'), textFirst('q'), questionFirst('A'), textFirst('r')];
    const parts = tokenize(questions);
    expect(partCount(questions)).toBe(3); // what admission counts a text's evaluations by
    expect(parts.map(({ asked, ownText }) => ({ asked, ownText }))).toEqual([
      { asked: [0], ownText: true },
      { asked: [1, 3], ownText: false },
      { asked: [2], ownText: true },
    ]);
    expect(parts[0]).toMatchObject({
      prefix: [START, ...chars('A'), START],
      texts: [chars('hi')],
      questions: [{ tokens: [END], labels: ['x', 'y'] }],
    });
  });

  it("checks each question's whole prompt against its own budget, naming its place among those asked", () => {
    // Start (3) + text (2) + question (1) is 6 tokens.
    expect(() => tokenize([textFirst('q'), questionFirst('A', 6), questionFirst('A', 5)])).toThrow(
      expect.objectContaining({ constructor: InputTooLongError, tokens: 6, options: { question: 2 } }),
    );
  });
});
