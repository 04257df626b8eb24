import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { AbortReason } from '../../common/request-signal.js';
import { AppConfig } from '../../config/app-config.js';
import type { PromptModule, PromptTurn } from '../../prompts/prompt-module.js';
import { Prompt, renderChatMlPrompt } from './chatml.js';
import { checkLabelTokens, scoreLabelSequences, softmax } from './label-scoring.js';
import { ModelService } from './model.service.js';
import { QueueFullError, RequestAbortedError } from './sequence-pool.js';

const CLIENT_CLOSED_REQUEST = 499;
import { trimReply } from './trim-reply.js';

export interface Classification {
  label: string;
  confidence: number;
}

export interface Generation {
  text: string;
  finishReason: 'stop' | 'length';
  completionTokens: number;
}

export interface GenerationLimits {
  maxTokens: number;
  maxChars: number;
  /** Called with each new piece of text as it is decoded (never a split character, never past maxChars). */
  onText?: (delta: string) => void;
}

/** Raised when a rendered prompt is over its task's budget; maps to 413. */
export class PromptTooLongError extends HttpException {
  constructor(task: string, promptTokens: number, maxInputTokens: number, item?: number) {
    const where = item === undefined ? '' : ` (item ${item})`;
    super(
      {
        message: `Input too long for the ${task} task${where}: the prompt would be ${promptTokens} tokens and at most ${maxInputTokens} are allowed (system prompt and template included).`,
        details: { promptTokens, maxInputTokens, ...(item === undefined ? {} : { item }) },
      },
      HttpStatus.PAYLOAD_TOO_LARGE,
    );
  }
}

/** The primitives every task shares: render a prompt, score a closed label set, generate text. */
@Injectable()
export class InferenceService {
  private readonly labelTokenCache = new Map<string, Token[]>();

  constructor(
    private readonly models: ModelService,
    private readonly config: AppConfig,
  ) {}

  renderPrompt(turns: readonly PromptTurn[]): Prompt {
    return renderChatMlPrompt(this.usableModel().model, turns);
  }

  countTokens(text: string): number {
    return this.usableModel().model.tokenize(text, false).length;
  }

  /** Renders the prompt and enforces the task's input budget (413 when over it). */
  renderPromptWithin(task: Pick<PromptModule<unknown>, 'name' | 'maxInputTokens'>, turns: readonly PromptTurn[], item?: number): Prompt {
    const prompt = this.renderPrompt(turns);
    if (prompt.tokens.length > task.maxInputTokens) throw new PromptTooLongError(task.name, prompt.tokens.length, task.maxInputTokens, item);
    return prompt;
  }

  /**
   * Picks the most likely label from one evaluation of the prompt. The evaluation holds the decode
   * lock exclusively, so its batches never mix with another request's tokens: the same prompt gets
   * bit-identical scores whatever else is running.
   */
  async classify(prompt: Prompt, labels: readonly string[], signal?: AbortSignal): Promise<Classification> {
    const labelTokens = this.tokenizeLabels(labels);
    const scores = await this.onSequence(prompt, async (sequence, rest) => {
      const release = await this.models.decodeLock.exclusive();
      try {
        if (signal?.aborted) throw new RequestAbortedError();
        return await scoreLabelSequences(sequence, rest, labelTokens);
      } finally {
        release();
      }
    }, signal);
    const probabilities = softmax(scores);
    const best = probabilities.indexOf(Math.max(...probabilities));
    return { label: labels[best], confidence: probabilities[best] };
  }

  /** Greedy generation, stopped by an end-of-generation token, the token cap or the character cap. */
  async generate(prompt: Prompt, limits: GenerationLimits, signal?: AbortSignal): Promise<Generation> {
    const generated = await this.onSequence(prompt, (sequence, rest) => this.decodeGreedy(sequence, rest, limits, signal), signal);
    const text = this.models.model.detokenize(generated.tokens);
    return {
      text: trimReply(text, limits.maxChars, generated.stopped),
      finishReason: generated.stopped ? 'stop' : 'length',
      completionTokens: generated.tokens.length,
    };
  }

  private async decodeGreedy(sequence: LlamaContextSequence, rest: readonly Token[], limits: GenerationLimits, signal?: AbortSignal) {
    const { model } = this.models;
    const tokens: Token[] = [];
    let streamed = '';
    const steps = sequence.evaluate([...rest], { temperature: 0 });
    try {
      while (tokens.length < limits.maxTokens) {
        if (signal?.aborted) throw new RequestAbortedError();
        // Each step is one decode; taking the lock shared lets concurrent generations batch together.
        const release = await this.models.decodeLock.shared();
        const step = await steps.next().finally(release);
        if (step.done || model.isEogToken(step.value)) return { tokens, stopped: true };
        tokens.push(step.value);
        const chars = [...model.detokenize(tokens).trimStart()];
        if (limits.onText) {
          const ready = chars.slice(0, limits.maxChars).join('').replace(/\uFFFD+$/u, '');
          if (ready.length > streamed.length) limits.onText(ready.slice(streamed.length));
          streamed = ready;
        }
        if (chars.length > limits.maxChars) break;
      }
      return { tokens, stopped: false };
    } finally {
      await steps.return();
    }
  }

  /**
   * Runs work on a pooled sequence. A full queue is a 503 the client may retry; a request over its
   * deadline is a 504; a client that left is a 499 (nginx's "client closed request"), which only
   * logs and metrics ever see.
   */
  private async onSequence<T>(prompt: Prompt, work: (sequence: LlamaContextSequence, rest: Token[]) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const prefix = prompt.tokens.slice(0, prompt.prefixLength);
    const rest = prompt.tokens.slice(prompt.prefixLength);
    try {
      return await this.usableModel().pool.use(prefix, (sequence) => work(sequence, rest), signal);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpException({ message: `${error.message}; retry shortly.`, details: { maxQueue: error.maxQueue } }, HttpStatus.SERVICE_UNAVAILABLE);
      }
      if (error instanceof RequestAbortedError && signal?.reason === ('timeout' satisfies AbortReason)) {
        throw new HttpException(`The request took longer than REQUEST_TIMEOUT_MS (${this.config.requestTimeoutMs} ms)`, HttpStatus.GATEWAY_TIMEOUT);
      }
      if (error instanceof RequestAbortedError) throw new HttpException(error.message, CLIENT_CLOSED_REQUEST);
      throw error;
    }
  }

  private tokenizeLabels(labels: readonly string[]): Token[][] {
    const { model } = this.usableModel();
    const tokens = labels.map((label) => {
      let cached = this.labelTokenCache.get(label);
      if (!cached) this.labelTokenCache.set(label, (cached = model.tokenize(label, false)));
      return cached;
    });
    checkLabelTokens(labels, tokens);
    return tokens;
  }

  private usableModel(): ModelService {
    if (!this.models.ready) {
      throw new HttpException(
        { message: `The model is not ready (${this.models.state}); retry shortly.`, details: { state: this.models.state } },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    return this.models;
  }
}
