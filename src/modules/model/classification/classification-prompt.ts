import type { Token } from 'node-llama-cpp';
import { InputTooLongError } from '../model.errors.js';
import type { PromptBudget } from '../prompt-budget.js';
import type { ChatMlTemplate } from '../tokens/chatml.js';
import type { TokenizedQuestion } from './answer-questions.js';
import type { ClassificationInput, LabelQuestion } from './classification.types.js';

/**
 * The questions of a classification that share a start, as tokens: the start (the cached prefix),
 * each text with the trail, and each question; every text is evaluated once after the start.
 */
export interface ClassificationPart {
  prefix: readonly Token[];
  texts: readonly (readonly Token[])[];
  questions: readonly TokenizedQuestion[];
  /** Each question's place among the input's questions. */
  asked: readonly number[];
  /** The one question's own text (see LabelQuestion.ownText). */
  ownText: boolean;
}

/** Questions of one key share a part; a question with its own text never shares one. */
const partOf = ({ system, lead, trail, ownText }: LabelQuestion, index: number) =>
  ownText ? `own\u0000${index}` : `shared\u0000${system}\u0000${lead}\u0000${trail}`;

/** How many parts tokenizeClassification makes of these questions: evaluations of each text. */
export const partCount = (questions: readonly LabelQuestion[]) => new Set(questions.map(partOf)).size;

/**
 * Groups the questions by start (each own-text question apart), in order of first appearance, and
 * tokenizes each piece once (a text is shared by the questions of its start, a question by every
 * text) after checking every prompt against its budget, first by length alone, then exactly.
 */
export function tokenizeClassification(
  template: ChatMlTemplate,
  input: ClassificationInput,
  budget: PromptBudget,
): ClassificationPart[] {
  // A text's place is worth naming only among several.
  const place = (item: number) => (input.texts.length > 1 ? item : undefined);
  input.texts.forEach((text, item) =>
    input.questions.forEach((question, index) =>
      budget.check(
        [question.system, question.lead, text, question.trail, question.prompt],
        question.maxInputTokens,
        place(item),
        index,
      ),
    ),
  );
  const groups = new Map<string, number[]>();
  input.questions.forEach((question, index) => {
    const key = partOf(question, index);
    groups.set(key, [...(groups.get(key) ?? []), index]);
  });
  return [...groups.values()].map((asked) => {
    const { system, lead, trail, ownText = false } = input.questions[asked[0]];
    const prefix = template.classificationStart(system, lead);
    const texts = input.texts.map((text) => template.classificationText(text, trail));
    const questions = asked.map((index) => ({
      tokens: template.classificationQuestion(input.questions[index].prompt),
      labels: input.questions[index].labels,
    }));
    texts.forEach((text, item) =>
      questions.forEach((question, k) => {
        const tokens = prefix.length + text.length + question.tokens.length;
        const { maxInputTokens } = input.questions[asked[k]];
        if (tokens > maxInputTokens)
          throw new InputTooLongError(tokens, maxInputTokens, { item: place(item), question: asked[k] });
      }),
    );
    return { prefix, texts, questions, asked, ownText };
  });
}
