import { BadRequestException, Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { ChatMessage, chatPrompt } from '../../prompts/chat.prompt.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { Prompt } from '../model/chatml.js';
import { Generation, InferenceService } from '../model/inference.service.js';

export interface ChatReply extends Generation {
  promptTokens: number;
}

export interface ChatOptions {
  maxChars?: number;
  /** Lower than CHAT_MAX_TOKENS only; a higher value is capped. */
  maxTokens?: number;
  signal?: AbortSignal;
  onText?: (delta: string) => void;
}

@Injectable()
export class ChatService {
  constructor(
    private readonly inference: InferenceService,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Generates a reply. With `onText` the text is also handed over piece by piece as it is decoded;
   * those pieces are cut at `maxChars` but not trimmed back to a sentence end as `text` is.
   */
  async reply(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatReply> {
    const maxChars = options.maxChars ?? this.config.chatMaxChars;
    if (maxChars > this.config.chatMaxChars) {
      throw new BadRequestException(`maxChars must be at most ${this.config.chatMaxChars} (CHAT_MAX_CHARS)`);
    }
    const maxTokens = Math.min(options.maxTokens ?? this.config.chatMaxTokens, this.config.chatMaxTokens);
    const prompt = this.fitHistory(messages, maxChars);
    const generation = await this.inference.generate(
      prompt,
      { maxTokens, maxChars, onText: options.onText },
      options.signal,
    );
    this.metrics.countTokens(chatPrompt.name, 'prompt', prompt.tokens.length);
    this.metrics.countTokens(chatPrompt.name, 'completion', generation.completionTokens);
    return { ...generation, promptTokens: prompt.tokens.length };
  }

  /**
   * Drops the oldest messages until the prompt fits the chat budget; the last user message is
   * always kept (413 if it alone is too long). Each message is tokenized once to estimate, and
   * the rendered prompt is the final word.
   */
  private fitHistory(messages: readonly ChatMessage[], maxChars: number): Prompt {
    const render = (kept: readonly ChatMessage[]) =>
      this.inference.renderPrompt(chatPrompt.buildTurns({ messages: kept, maxChars }));
    const estimates = messages.map((m) => this.inference.countTokens(m.content) + TURN_OVERHEAD_TOKENS);
    const fixedTokens = render([]).tokens.length;
    let first = 0;
    let total = fixedTokens + estimates.reduce((a, b) => a + b, 0);
    while (first < messages.length - 1 && total > chatPrompt.maxInputTokens) total -= estimates[first++];
    for (; ; first++) {
      const kept = messages.slice(first);
      if (kept.length === 1)
        return this.inference.renderPromptWithin(chatPrompt, chatPrompt.buildTurns({ messages: kept, maxChars }));
      const prompt = render(kept);
      if (prompt.tokens.length <= chatPrompt.maxInputTokens) return prompt;
    }
  }
}

/** <|im_start|>, the role and its newline, <|im_end|> and the newline after it. */
const TURN_OVERHEAD_TOKENS = 5;
