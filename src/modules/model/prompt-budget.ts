import { InputTooLongError } from './model.errors.js';

/**
 * Prompt lengths judged from text alone, before tokenizing: no token stands for more UTF-8 bytes
 * than the vocabulary's longest token text (128 for Qwen2), so a text of n bytes takes at least
 * n / that many tokens. Without a vocabulary to measure (Infinity), nothing is refused by length alone.
 */
export class PromptBudget {
  constructor(private readonly longestTokenBytes: number) {}

  /** The fewest tokens these texts can take; never more than the real count. */
  minTokens(texts: readonly string[]): number {
    return texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / this.longestTokenBytes), 0);
  }

  /** Refuses, without tokenizing, texts that cannot fit by their length alone. */
  check(texts: readonly string[], maxInputTokens: number, item?: number, question?: number): void {
    const atLeast = this.minTokens(texts);
    if (atLeast > maxInputTokens)
      throw new InputTooLongError(atLeast, maxInputTokens, { atLeast: true, item, question });
  }
}
