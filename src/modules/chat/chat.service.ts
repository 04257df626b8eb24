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
   * those pieces are cut at `maxChars` but not trimmed back to a sentence end as `text` is. A
   * request that could not run now (503) is refused before any message is tokenized.
   */
  async reply(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatReply> {
    const maxChars = options.maxChars ?? this.config.chatMaxChars;
    if (maxChars > this.config.chatMaxChars) {
      throw new BadRequestException(`maxChars must be at most ${this.config.chatMaxChars} (CHAT_MAX_CHARS)`);
    }
    const maxTokens = Math.min(options.maxTokens ?? this.config.chatMaxTokens, this.config.chatMaxTokens);
    this.inference.admit();
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
   * always kept (413 if it alone is too long). Messages that cannot fit by their length alone are
   * dropped untokenized; each other message is tokenized once to estimate, and the rendered prompt
   * is the final word.
   */
  private fitHistory(history: readonly ChatMessage[], maxChars: number): Prompt {
    const turns = (kept: readonly ChatMessage[]) => chatPrompt.buildTurns({ messages: kept, maxChars });
    const messages = history.slice(this.oldestThatMayFit(history, maxChars));
    let first = 0;
    if (messages.length > 1) {
      const estimates = messages.map((m) => this.inference.countTokens(m.content) + TURN_OVERHEAD_TOKENS);
      let total = this.inference.renderPrompt(turns([])).tokens.length + estimates.reduce((a, b) => a + b, 0);
      while (first < messages.length - 1 && total > chatPrompt.maxInputTokens) total -= estimates[first++];
    }
    for (; first < messages.length - 1; first++) {
      const prompt = this.inference.renderPrompt(turns(messages.slice(first)));
      if (prompt.tokens.length <= chatPrompt.maxInputTokens) return prompt;
    }
    return this.inference.renderPromptWithin(chatPrompt, turns(messages.slice(-1)));
  }

  /**
   * The oldest message that may fit with every newer one, each counted by its length alone (see
   * minTokens, a lower bound); never past the last message.
   */
  private oldestThatMayFit(history: readonly ChatMessage[], maxChars: number): number {
    const [system] = chatPrompt.buildTurns({ messages: [], maxChars });
    let atLeast = this.inference.minTokens(system.content);
    for (let oldest = history.length - 1; oldest >= 0; oldest--) {
      atLeast += this.inference.minTokens(history[oldest].content);
      if (atLeast > chatPrompt.maxInputTokens) return Math.min(oldest + 1, history.length - 1);
    }
    return 0;
  }
}

/** <|im_start|>, the role and its newline, <|im_end|> and the newline after it. */
const TURN_OVERHEAD_TOKENS = 5;
