import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { AbortReason } from '../../common/request-signal.js';
import { AppConfig } from '../../config/app-config.js';
import type { PromptModule, PromptTurn } from '../../prompts/prompt-module.js';
import { Prompt, renderChatMlPrompt } from './chatml.js';
import { endsGeneration } from './generation-end.js';
import { checkLabels, chooseLabel, LabelVocabulary, softmax } from './label-scoring.js';
import { ModelService } from './model.service.js';
import { SamplerGarbage } from './sampler-garbage.js';
import { QueueFullError, RequestAbortedError, ShuttingDownError } from './sequence-pool.js';
import { settleAll } from './settle-all.js';
import { trimReply } from './trim-reply.js';

const CLIENT_CLOSED_REQUEST = 499;
/** Decode steps a generation takes per turn at the decode lock (~150 ms on the 0.5B model on 2 cores). */
const GENERATION_STEPS_PER_LOCK = 8;

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

/**
 * Raised when a prompt is over its task's budget; maps to 413. `tokens` is the rendered prompt's
 * length, or with `atLeast` a lower bound from the text's length alone (the text was not tokenized).
 */
export class PromptTooLongError extends HttpException {
  constructor(task: string, count: { tokens: number; atLeast?: boolean }, maxInputTokens: number, item?: number) {
    const where = item === undefined ? '' : ` (item ${item})`;
    const promptTokens = count.atLeast ? { minPromptTokens: count.tokens } : { promptTokens: count.tokens };
    super(
      {
        message: `Input too long for the ${task} task${where}: the prompt would be ${count.atLeast ? 'at least ' : ''}${count.tokens} tokens and at most ${maxInputTokens} are allowed (system prompt and template included).`,
        details: { ...promptTokens, maxInputTokens, ...(item === undefined ? {} : { item }) },
      },
      HttpStatus.PAYLOAD_TOO_LARGE,
    );
  }
}

/** The primitives every task shares: render a prompt, score a closed label set, generate text. */
@Injectable()
export class InferenceService {
  private labelVocabulary?: LabelVocabulary;
  private readonly samplerGarbage = new SamplerGarbage();

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

  /**
   * The fewest tokens `text` can take, from its UTF-8 length alone: no token stands for more than
   * the vocabulary's longest token text (128 bytes for Qwen2), so this never exceeds the real count.
   */
  minTokens(text: string): number {
    return Math.ceil(Buffer.byteLength(text) / this.usableModel().longestTokenBytes);
  }

  /**
   * Refuses, before any of its text is tokenized, a request that could not run now: 503 while the
   * model is not ready (loading, draining), while shutting down, and while the queue is full, so a
   * 1 MiB body costs no tokenizing when the answer is 503 anyway. The pool checks again when the
   * request takes its place; nothing between the two yields to another request.
   */
  admit(): void {
    try {
      this.usableModel().pool.admit();
    } catch (error) {
      throw this.httpError(error);
    }
  }

  /**
   * Renders the prompt and enforces the task's input budget (413 when over it). Turns whose text is
   * over the budget by length alone (see minTokens) are refused without being tokenized.
   */
  renderPromptWithin(
    task: Pick<PromptModule<unknown>, 'name' | 'maxInputTokens'>,
    turns: readonly PromptTurn[],
    item?: number,
  ): Prompt {
    const atLeast = turns.reduce((sum, turn) => sum + this.minTokens(turn.content), 0);
    if (atLeast > task.maxInputTokens)
      throw new PromptTooLongError(task.name, { tokens: atLeast, atLeast: true }, task.maxInputTokens, item);
    const prompt = this.renderPrompt(turns);
    if (prompt.tokens.length > task.maxInputTokens)
      throw new PromptTooLongError(task.name, { tokens: prompt.tokens.length }, task.maxInputTokens, item);
    return prompt;
  }

  /**
   * Classifies prompts that share one system prompt, in one place in the queue: each is evaluated
   * once and gets the label grammar-constrained greedy decoding would give. By default each
   * evaluation holds the decode lock exclusively, so its batches never mix with another request's
   * tokens and the same prompt always gets bit-identical scores; with SENTIMENT_BATCHING=throughput
   * evaluations share batches (faster under load, repeatable only to float rounding) and a batch
   * spreads over the sequences idle when it starts, in rounds of similar-length prompts padded to
   * the same length: llama.cpp gives each sequence its own KV stream and cuts a multi-sequence
   * batch into micro-batches of equal tokens per sequence, so ragged prompts leave small, slow
   * micro-batches behind (see README, Benchmarks).
   */
  async classify(
    prompts: readonly Prompt[],
    labels: readonly string[],
    signal?: AbortSignal,
  ): Promise<Classification[]> {
    const { model } = this.usableModel();
    checkLabels(labels);
    this.labelVocabulary ??= new LabelVocabulary(model);
    const vocabulary = this.labelVocabulary;
    const shareBatches = this.config.sentimentBatching === 'throughput';
    const prefixLength = prompts[0].prefixLength;
    const rests = prompts.map((prompt) => prompt.tokens.slice(prefixLength));
    const results: Classification[] = [];
    const classifyOn = async (sequence: LlamaContextSequence, item: number, padding: number, signal: AbortSignal) => {
      const release = await (shareBatches ? this.models.decodeLock.shared() : this.models.decodeLock.exclusive());
      try {
        if (signal.aborted) throw new RequestAbortedError();
        const { chosen, scores } = await chooseLabel(sequence, rests[item], labels, vocabulary, padding);
        results[item] = { label: labels[chosen], confidence: softmax(scores)[chosen] };
        this.samplerGarbage.evaluated();
        await sequence.eraseContextTokenRanges([{ start: prefixLength, end: sequence.nextTokenIndex }]);
      } finally {
        release();
      }
    };
    const classifyAll = async (sequences: LlamaContextSequence[], signal: AbortSignal) => {
      const byLength = rests.map((_, item) => item).sort((a, b) => rests[a].length - rests[b].length);
      for (let start = 0; start < byLength.length; start += sequences.length) {
        const round = byLength.slice(start, start + sequences.length);
        const longest = Math.max(...round.map((item) => rests[item].length));
        await settleAll(round.map((item, k) => classifyOn(sequences[k], item, longest - rests[item].length, signal)));
      }
    };
    const wanted = shareBatches ? prompts.length : 1;
    await this.onSequences(prompts[0], wanted, classifyAll, signal);
    return results;
  }

  /** Greedy generation, stopped by a control token (see endsGeneration), the token cap or the character cap. */
  async generate(prompt: Prompt, limits: GenerationLimits, signal?: AbortSignal): Promise<Generation> {
    const rest = prompt.tokens.slice(prompt.prefixLength);
    const generated = await this.onSequences(
      prompt,
      1,
      ([sequence], runSignal) => this.decodeGreedy(sequence, rest, limits, runSignal),
      signal,
    );
    this.samplerGarbage.evaluated();
    const text = this.models.model.detokenize(generated.tokens);
    return {
      text: trimReply(text, limits.maxChars, generated.stopped),
      finishReason: generated.stopped ? 'stop' : 'length',
      completionTokens: generated.tokens.length,
    };
  }

  private async decodeGreedy(
    sequence: LlamaContextSequence,
    rest: readonly Token[],
    limits: GenerationLimits,
    signal: AbortSignal,
  ) {
    const { model } = this.models;
    const tokens: Token[] = [];
    let streamed = '';
    const steps = sequence.evaluate([...rest], { temperature: 0 });
    let release: (() => void) | undefined;
    try {
      for (let step = 1; tokens.length < limits.maxTokens; step++) {
        if (signal.aborted) throw new RequestAbortedError();
        // Shared: concurrent generations batch together. Held for several steps: a classification
        // waits at most that long, and a chat is not held to one token per classification.
        release ??= await this.models.decodeLock.shared();
        const next = await steps.next();
        if (step % GENERATION_STEPS_PER_LOCK === 0) {
          release();
          release = undefined;
        }
        if (next.done || endsGeneration(model, next.value)) return { tokens, stopped: true };
        tokens.push(next.value);
        const chars = [...model.detokenize(tokens).trimStart()];
        if (limits.onText) {
          const ready = chars
            .slice(0, limits.maxChars)
            .join('')
            .replace(/\uFFFD+$/u, '');
          if (ready.length > streamed.length) limits.onText(ready.slice(streamed.length));
          streamed = ready;
        }
        if (chars.length > limits.maxChars) break;
      }
      return { tokens, stopped: false };
    } finally {
      release?.();
      await steps.return();
    }
  }

  /** Runs work on pooled sequences (one place in the queue); the signal `work` gets also fires at shutdown. */
  private async onSequences<T>(
    prompt: Prompt,
    wanted: number,
    work: (sequences: LlamaContextSequence[], signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const prefix = prompt.tokens.slice(0, prompt.prefixLength);
    const { pool } = this.usableModel();
    this.samplerGarbage.busy();
    try {
      return await pool.useSeveral(prefix, wanted, work, signal);
    } catch (error) {
      throw this.httpError(error, signal);
    } finally {
      if (pool.busy === 0 && pool.queued === 0) this.samplerGarbage.idle();
    }
  }

  /**
   * The pool's refusals as HTTP errors. A full queue or a shutdown is a 503 the client may retry
   * (elsewhere); a request over its deadline is a 504; a client that left is a 499 (nginx's
   * "client closed request"), which only logs and metrics ever see. Anything else passes through.
   */
  private httpError(error: unknown, signal?: AbortSignal): unknown {
    if (error instanceof QueueFullError) {
      return new HttpException(
        { message: `${error.message}; retry shortly.`, details: { maxQueue: error.maxQueue } },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    if (error instanceof ShuttingDownError) {
      return new HttpException(`${error.message}; retry shortly.`, HttpStatus.SERVICE_UNAVAILABLE);
    }
    if (error instanceof RequestAbortedError && signal?.reason === ('timeout' satisfies AbortReason)) {
      return new HttpException(
        `The request took longer than REQUEST_TIMEOUT_MS (${this.config.requestTimeoutMs} ms)`,
        HttpStatus.GATEWAY_TIMEOUT,
      );
    }
    if (error instanceof RequestAbortedError) return new HttpException(error.message, CLIENT_CLOSED_REQUEST);
    return error;
  }

  private usableModel(): ModelService {
    if (!this.models.ready) {
      throw new HttpException(
        {
          message: `The model is not ready (${this.models.state}); retry shortly.`,
          details: { state: this.models.state },
        },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    return this.models;
  }
}
