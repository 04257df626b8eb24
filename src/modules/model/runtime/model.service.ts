import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import { releaseFreedMemory } from '../../../runtime/collect-garbage.js';
import { ALLOCATION_FAILURE, isTransientFailure } from '../../../runtime/transient-failure.js';
import { AppConfig } from '../../../config/app-config.js';
import { sequenceContextSize } from '../../../prompts/task-definitions.js';
import { ModelFileError, ModelResourceError } from '../model.errors.js';
import { takeOpenedModel } from './model-opening.js';
import { Scheduler } from '../scheduling/scheduler.js';
import { sequenceOrderStrategy } from '../scheduling/sequence-order.js';
import { TokenBytes } from '../tokens/token-bytes.js';

/**
 * node-llama-cpp keeps the GGUF metadata it parsed, the vocabulary's 151,936 tokens and 151,387
 * merges among it as JavaScript strings: 12.7 MiB of V8 heap for the whole process life, though
 * llama.cpp tokenizes from its own copy. After load only the arrays' lengths are read (the
 * vocabulary size, by node-llama-cpp and by label scoring), so empty arrays of the same length
 * keep those right. Sparse ones: `new Array(n)` would still take 8 bytes per element.
 */
function dropVocabularyStrings(model: LlamaModel): void {
  const vocabulary = model.fileInfo.metadata.tokenizer?.ggml as Record<string, unknown> | undefined;
  for (const key of ['tokens', 'merges', 'token_type']) {
    const values = vocabulary?.[key];
    if (!Array.isArray(values) || values.length === 0) continue;
    const empty: unknown[] = [];
    empty[values.length - 1] = undefined; // one element this far out makes V8 store them in a dictionary
    vocabulary![key] = empty;
  }
}

export type ModelState = 'not_loaded' | 'loading' | 'warming' | 'ready' | 'draining' | 'failed' | 'closed';

/** Work between loading and readiness: paying in advance what each task's first request would pay. */
export type WarmUp = (progress: WarmUpProgress) => Promise<void>;

/** Units of warm-up done and to do (the tasks, for the tasks' warm-up), shown while warming. */
export interface WarmUpProgress {
  warmed: number;
  total: number;
}

/** Fails fast, before anything starts, when the model file is missing or is not a GGUF file. */
export function checkModelFile(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ModelFileError(
      `Model file not found: ${path}. Put a Qwen2.5-0.5B-Instruct GGUF file there or set MODEL_PATH to one.`,
    );
  }
  if (size < 8)
    throw new ModelFileError(`Model file ${path} is empty or truncated. Replace it with a valid GGUF file.`);
}

/**
 * Owns the one model shared by every task: the llama runtime, the weights and one context with
 * SEQUENCES sequences, which it hands to the Scheduler once loaded. Its state (loading, warming,
 * ready, draining…) is written here only. Disposes them in reverse order on shutdown.
 */
@Injectable()
export class ModelService implements OnApplicationShutdown {
  private readonly logger = new Logger(ModelService.name);
  private llama?: Llama;
  private loadedModel?: LlamaModel;
  private context?: LlamaContext;
  private opening?: Promise<void>;
  private loading?: Promise<void>;
  private warmUp?: WarmUp;
  private warmUpProgress?: WarmUpProgress;
  private modelState: ModelState = 'not_loaded';
  private failureReason?: string;
  private loadTookMs?: number;
  /** Where the load's time went: the runtime (getLlama), the weights, the context. */
  private loadPhasesMs?: { runtime: number; weights: number; context: number };
  private warmUpTookMs?: number;
  private vocabularyBytes?: TokenBytes;

  /** Tokens each sequence holds: sized at startup for the configured tasks; a reload must fit in it. */
  readonly sequenceContextSize: number;

  constructor(
    private readonly config: AppConfig,
    private readonly scheduler: Scheduler,
  ) {
    this.sequenceContextSize = sequenceContextSize(config.tasks);
  }

  get state(): ModelState {
    return this.modelState;
  }

  /** Why loading or warming up failed, in one line. */
  get failure(): string | undefined {
    return this.failureReason;
  }

  /** From the opening's start to a usable context. */
  get loadMs(): number | undefined {
    return this.loadTookMs;
  }

  /** From the end of loading to readiness. */
  get warmUpMs(): number | undefined {
    return this.warmUpTookMs;
  }

  /** Every token's bytes, for label scoring; undefined for a vocabulary that is not byte-level BPE. */
  get tokenBytes(): TokenBytes | undefined {
    return this.vocabularyBytes;
  }

  /**
   * The most UTF-8 bytes of text one token stands for, so that a text of n bytes takes at least
   * n / this many tokens. Without a vocabulary to measure, no text is refused by its length alone.
   */
  get longestTokenBytes(): number {
    return this.vocabularyBytes?.longest ?? Infinity;
  }

  /**
   * Loads once, then warms up (see warmUpWith) before turning ready; later calls return the same
   * promise. Rejects with a one-line reason, or with the warm-up's own error.
   */
  load(): Promise<void> {
    this.loading ??= this.startLoading().then(() => this.warmUpOnce());
    return this.loading;
  }

  /** Starts loading the weights and the context, without the warm-up (main.ts: while Nest initialises). */
  startLoading(): Promise<void> {
    this.opening ??= this.loadOnce();
    return this.opening;
  }

  /**
   * Sets the work that runs after loading and before readiness (the tasks module's warm-up), so a
   * replica reports ready only once its first requests cost what later ones do. Set before load().
   */
  warmUpWith(warmUp: WarmUp): void {
    this.warmUp = warmUp;
  }

  /** True once requests may run on the model: while warming (for the warm-up's own) or ready. */
  get loaded(): boolean {
    return this.state === 'warming' || this.state === 'ready';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /**
   * Stops taking new work: readiness goes down, new requests and those waiting in line get 503;
   * requests already running go on.
   */
  beginDrain(): void {
    if (this.loaded) this.modelState = 'draining';
    this.scheduler.close();
  }

  /** Stops the requests still running (each fails with ShuttingDownError); returns how many there were. */
  stopRunning(): number {
    return this.scheduler.stopRunning();
  }

  /** Loaded weights; stays usable while draining so in-flight requests can finish. */
  get model(): LlamaModel {
    if (!this.loadedModel) throw new Error('model is not loaded');
    return this.loadedModel;
  }

  /** Sequences serving a request and requests waiting for one; zeros while no model is loaded. */
  poolLoad(): { busy: number; queued: number } {
    return this.scheduler.load();
  }

  /** The model's own name from its GGUF metadata, else its file name. */
  get modelName(): string {
    return this.loadedModel?.fileInfo.metadata.general?.name ?? basename(this.config.modelPath, '.gguf');
  }

  describe() {
    const { busy, queued } = this.poolLoad();
    return {
      state: this.state,
      path: this.config.modelPath,
      name: this.modelName,
      threads: this.config.threads,
      sequences: this.config.sequences,
      sequenceContextSize: this.sequenceContextSize,
      busySequences: busy,
      queued,
      maxQueue: this.config.maxQueue,
      loadMs: this.loadMs,
      ...(this.loadPhasesMs ? { loadPhasesMs: this.loadPhasesMs } : {}),
      ...(this.state === 'warming' && this.warmUpProgress ? { warmUp: { ...this.warmUpProgress } } : {}),
      ...(this.warmUpMs === undefined ? {} : { warmUpMs: this.warmUpMs }),
      ...(this.failure ? { failure: this.failure } : {}),
    };
  }

  private async loadOnce(): Promise<void> {
    this.modelState = 'loading';
    let allocationFailure: string | undefined; // llama.cpp says so only in its log
    try {
      checkModelFile(this.config.modelPath);
      const opened = await takeOpenedModel(this.config, (level, message) => {
        if (ALLOCATION_FAILURE.test(message)) allocationFailure ??= message.trim();
        this.logger.warn({ event: 'llama_log', llamaLevel: level, message: message.trim() });
      });
      ({ llama: this.llama, model: this.loadedModel } = opened);
      const contextStarted = performance.now();
      this.vocabularyBytes = TokenBytes.fromVocabulary(this.loadedModel);
      dropVocabularyStrings(this.loadedModel);
      this.context = await opened.model.createContext({
        sequences: this.config.sequences,
        contextSize: this.sequenceContextSize,
        batchSize: this.config.batchSize,
        threads: this.config.threads,
        batching: { itemPrioritizationStrategy: sequenceOrderStrategy },
      });
      const sequences = Array.from({ length: this.config.sequences }, () => this.context!.getSequence());
      this.scheduler.open(sequences);
      const context = Math.round(performance.now() - contextStarted);
      this.loadPhasesMs = { runtime: opened.runtimeMs, weights: opened.weightsMs, context };
      // From the opening's start, which main.ts makes before this service exists.
      this.loadTookMs = opened.runtimeMs + opened.weightsMs + context;
      this.modelState = 'warming';
      // The loader's buffers (GGUF metadata, tensor reads) are freed by now but still resident.
      void releaseFreedMemory();
      this.logger.log({ event: 'model_loaded', ...this.describe() });
    } catch (error) {
      this.modelState = 'failed';
      await this.dispose();
      // llama.cpp's log lines reach JavaScript through a thread-safe function, after the failed
      // call's rejection: a turn of the event loop lets those already queued arrive.
      await new Promise((done) => setImmediate(done));
      const reason = (error as Error).message.split('\n')[0];
      this.failureReason = `Could not load model ${this.config.modelPath}: ${reason}${allocationFailure ? ` (${allocationFailure})` : ''}`;
      throw allocationFailure || isTransientFailure(error)
        ? new ModelResourceError(this.failure)
        : new ModelFileError(this.failure);
    }
  }

  private async warmUpOnce(): Promise<void> {
    const started = Date.now();
    this.warmUpProgress = { warmed: 0, total: 0 };
    try {
      await this.warmUp?.(this.warmUpProgress);
    } catch (error) {
      // A drain that began meanwhile refused the warm-up's requests: that is no failure.
      if (this.state !== 'warming') return;
      this.modelState = 'failed';
      this.failureReason = `Warm-up failed: ${(error as Error).message.split('\n')[0]}`;
      throw error;
    }
    if (this.state !== 'warming') return;
    this.warmUpTookMs = Date.now() - started;
    this.modelState = 'ready';
    this.logger.log({ event: 'model_ready', ...this.describe() });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dispose();
    if (this.loaded || this.state === 'draining') this.modelState = 'closed';
  }

  private async dispose(): Promise<void> {
    await this.context?.dispose();
    await this.loadedModel?.dispose();
    await this.llama?.dispose();
    this.context = this.loadedModel = this.llama = undefined;
  }
}
