import type { LlamaModel } from 'node-llama-cpp';
import { InputTooLongError } from '../model.errors.js';
import type { PromptBudget } from '../prompt-budget.js';
import type { ChatMlTemplate, Prompt } from '../tokens/chatml.js';
import type { ChatTurn, GenerationInput } from './generation.types.js';

/** <|im_start|>, the role and its newline, <|im_end|> and the newline after it. */
const TURN_OVERHEAD_TOKENS = 5;

/**
 * The generation's prompt, its oldest messages dropped until it fits its budget; the last one is
 * always kept (InputTooLongError if it alone does not fit). Messages that cannot fit by their
 * length alone are dropped untokenized; each other message is tokenized once to estimate, and the
 * rendered prompt is the final word.
 */
export function fitChatPrompt(
  template: ChatMlTemplate,
  model: LlamaModel,
  input: GenerationInput,
  budget: PromptBudget,
): Prompt {
  const render = (kept: readonly ChatTurn[]) => renderChat(template, input, kept);
  const messages = input.messages.slice(oldestThatMayFit(input, budget));
  let first = 0;
  if (messages.length > 1) {
    const estimates = messages.map((m) => model.tokenize(m.content, false).length + TURN_OVERHEAD_TOKENS);
    let total = render([]).tokens.length + estimates.reduce((a, b) => a + b, 0);
    while (first < messages.length - 1 && total > input.maxInputTokens) total -= estimates[first++];
  }
  for (; first < messages.length - 1; first++) {
    const prompt = render(messages.slice(first));
    if (prompt.tokens.length <= input.maxInputTokens) return prompt;
  }
  const last = messages.slice(-1);
  budget.check([input.system, ...input.instructions, last[0].content], input.maxInputTokens);
  const prompt = render(last);
  if (prompt.tokens.length > input.maxInputTokens)
    throw new InputTooLongError(prompt.tokens.length, input.maxInputTokens);
  return prompt;
}

/** The oldest message that may fit with every newer one, each counted by its length alone; never past the last. */
function oldestThatMayFit(input: GenerationInput, budget: PromptBudget): number {
  let atLeast = budget.minTokens([input.system, ...input.instructions]);
  for (let oldest = input.messages.length - 1; oldest >= 0; oldest--) {
    atLeast += budget.minTokens([input.messages[oldest].content]);
    if (atLeast > input.maxInputTokens) return Math.min(oldest + 1, input.messages.length - 1);
  }
  return 0;
}

/** The persona's system turn (the cached prefix), the client's instructions, then the kept messages. */
function renderChat(template: ChatMlTemplate, input: GenerationInput, messages: readonly ChatTurn[]): Prompt {
  return template.render([
    { role: 'system', content: input.system },
    ...input.instructions.map((content) => ({ role: 'system' as const, content })),
    ...messages,
  ]);
}
