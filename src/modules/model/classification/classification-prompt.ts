import type { Token } from 'node-llama-cpp';
import { InputTooLongError } from '../model.errors.js';
import type { PromptBudget } from '../prompt-budget.js';
import type { ChatMlTemplate } from '../tokens/chatml.js';
import type { TokenizedQuestion } from './answer-questions.js';
import type { ClassificationInput } from './classification.types.js';

/** A classification's parts as tokens: the shared start (the cached prefix), each text, each question. */
export interface ClassificationPrompt {
  prefix: readonly Token[];
  texts: readonly (readonly Token[])[];
  questions: readonly TokenizedQuestion[];
}

/**
 * Tokenizes each part once (a text is shared by every question, a question by every text) after
 * checking every prompt against its budget, first by length alone, then exactly.
 */
export function tokenizeClassification(
  template: ChatMlTemplate,
  input: ClassificationInput,
  budget: PromptBudget,
): ClassificationPrompt {
  // A text's place is worth naming only among several.
  const place = (item: number) => (input.texts.length > 1 ? item : undefined);
  input.texts.forEach((text, item) =>
    input.questions.forEach((question, index) =>
      budget.check(
        [input.system, input.lead, text, input.trail, question.prompt],
        question.maxInputTokens,
        place(item),
        index,
      ),
    ),
  );
  const prefix = template.classificationStart(input.system, input.lead);
  const texts = input.texts.map((text) => template.classificationText(text, input.trail));
  const questions: TokenizedQuestion[] = input.questions.map((question) => ({
    tokens: template.classificationQuestion(question.prompt),
    labels: question.labels,
  }));
  texts.forEach((text, item) =>
    questions.forEach((question, index) => {
      const tokens = prefix.length + text.length + question.tokens.length;
      const { maxInputTokens } = input.questions[index];
      if (tokens > maxInputTokens)
        throw new InputTooLongError(tokens, maxInputTokens, { item: place(item), question: index });
    }),
  );
  return { prefix, texts, questions };
}
