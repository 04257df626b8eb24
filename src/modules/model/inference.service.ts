import { Injectable } from '@nestjs/common';
import { LlamaGrammarEvaluationState, type LlamaContextSequence, type LlamaGrammar, type Token } from 'node-llama-cpp';
import { AppConfig } from '../../config/app-config.js';
import { ChatMlTemplate, chatMlTemplate, type Prompt } from './chatml.js';
import type { ClassificationInput, ClassifiedText } from './classification.types.js';
import { answerQuestions, type DecodeTurn, type TokenizedQuestion } from './classifier.js';
import type { ChatTurn, Generation, GenerationInput } from './generation.types.js';
import { endsGeneration } from './generation-end.js';
import { isCompleteJson, JsonGrammars } from './json-grammars.js';
import { jsonRootEnd } from './json-root-end.js';
import { LabelVocabulary } from './label-scoring.js';
import { InputTooLongError, ModelNotReadyError, RequestAbortedError } from './model.errors.js';
import { ModelService } from './model.service.js';
import { SamplerGarbage } from './sampler-garbage.js';
import { sequencePriority } from './sequence-order.js';
import { settleAll } from './settle-all.js';
import { stopIndex, withoutStopStart } from './stop-strings.js';

/** Decode steps a generation takes per turn at the decode lock (~150 ms on the 0.5B model on 2 cores). */
const GENERATION_STEPS_PER_LOCK = 8;
/** <|im_start|>, the role and its newline, <|im_end|> and the newline after it. */
const TURN_OVERHEAD_TOKENS = 5;

export interface RunOptions {
  /** A warm-up's own request: runs while the model is warming, when others are refused. */
  warmUp?: boolean;
}

/**
 * The model's primitives, with plain inputs and results: classify texts under questions with
 * closed label sets, and generate a reply. Tokens never leave this layer; failures are the domain
 * errors of model.errors.ts. It knows no task names and no HTTP.
 */
@Injectable()
export class InferenceService {
  private labelVocabulary?: LabelVocabulary;
  private jsonGrammars?: JsonGrammars;
  private readonly samplerGarbage = new SamplerGarbage();

  constructor(
    private readonly models: ModelService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Throws at once what would refuse a new request (not ready, shutting down, queue full), so a
   * request that cannot run now costs no tokenizing. The pool checks again when the request takes
   * its place; nothing between the two yields to another request.
   */
  admit(options: RunOptions = {}): void {
    this.usableModel(options).pool.admit();
  }

  /** How many tokens a text takes (special-token text counted as plain text); from the end of loading on. */
  countTokens(text: string): number {
    return this.usableModel({ warmUp: true }).model.tokenize(text, false).length;
  }

  /**
   * Each text is evaluated once after the shared start and every question after it (see
   * answerQuestions); each answer is the label grammar-constrained greedy decoding would give.
   * Every prompt is checked against its budget before anything is evaluated, first by length
   * alone, then exactly. By default a request holds one sequence and each of its evaluations holds
   * the decode lock exclusively, so its batches never mix with another request's tokens and the
   * same text always gets bit-identical answers. With SENTIMENT_BATCHING=throughput a batch
   * spreads over the sequences idle when it starts, in rounds of similar-length texts padded to one
   * length, whose evaluations share decode batches (faster under load, repeatable only to float
   * rounding): llama.cpp gives each sequence its own KV stream and cuts a multi-sequence batch
   * into micro-batches of equal tokens per sequence, so ragged prompts would leave small, slow
   * micro-batches behind. Single classifications in throughput mode are gathered into such rounds
   * too (see RoundGatherer), each on its own sequence, with its own place in the queue and its own
   * errors.
   */
  async classify(
    input: ClassificationInput,
    signal?: AbortSignal,
    options: RunOptions = {},
  ): Promise<ClassifiedText[]> {
    this.admit(options);
    const template = chatMlTemplate(this.models.model);
    // A text's place is worth naming only among several.
    const place = (item: number) => (input.texts.length > 1 ? item : undefined);
    input.texts.forEach((text, item) =>
      input.questions.forEach((question, index) =>
        this.checkLength(
          [input.system, input.lead, text, input.trail, question.prompt],
          question.maxInputTokens,
          place(item),
          index,
        ),
      ),
    );
    // Each part tokenized once: a text is shared by every question, a question by every text.
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
    const vocabulary = (this.labelVocabulary ??= new LabelVocabulary(this.models.model, this.models.tokenBytes));
    const shareBatches = this.config.sentimentBatching === 'throughput';
    const { decodeLock } = this.models;
    const turn: DecodeTurn = shareBatches ? () => decodeLock.shared() : () => decodeLock.exclusive();
    const answers: ClassifiedText['answers'][] = [];
    const answer = async (
      sequence: LlamaContextSequence,
      item: number,
      runSignal: AbortSignal,
      padding?: (firstTokens: number) => Promise<number>,
    ) => {
      const priority = sequencePriority(this.models.pool.orderOf(sequence));
      answers[item] = await answerQuestions(sequence, texts[item], questions, vocabulary, turn, runSignal, {
        padding,
        priority,
      });
      for (let i = 0; i < questions.length; i++) this.samplerGarbage.evaluated();
    };
    // A single text in throughput mode waits for company (see RoundGatherer); that wait is queueing too.
    const arrival = shareBatches && texts.length === 1 ? this.models.roundGatherer.arrive() : undefined;
    let gatheredMs = 0;
    const gather = (order: number, runSignal: AbortSignal) => async (tokens: number) => {
      const joined = performance.now();
      const padding = await arrival!.join(order, tokens, runSignal);
      gatheredMs = performance.now() - joined;
      return padding;
    };
    let waitedMs: number;
    try {
      ({ waitedMs } = await this.onSequences(
        prefix,
        shareBatches ? texts.length : 1,
        async (sequences, runSignal) => {
          if (arrival) {
            const order = this.models.pool.orderOf(sequences[0]);
            try {
              return await answer(sequences[0], 0, runSignal, gather(order, runSignal));
            } finally {
              arrival.leave(); // before the sequence's cleanup: the next round may start now
            }
          }
          const byLength = texts.map((_, item) => item).sort((a, b) => texts[a].length - texts[b].length);
          for (let start = 0; start < byLength.length; start += sequences.length) {
            const round = byLength.slice(start, start + sequences.length);
            const longest = Math.max(...round.map((item) => texts[item].length));
            const padding = (item: number) => (shareBatches ? async () => longest - texts[item].length : undefined);
            await settleAll(round.map((item, k) => answer(sequences[k], item, runSignal, padding(item))));
          }
        },
        signal,
        options,
      ));
    } finally {
      arrival?.leave();
    }
    const questionTokens = questions.reduce((sum, question) => sum + question.tokens.length, 0);
    return texts.map((text, item) => ({
      promptTokens: prefix.length + text.length + questionTokens,
      queueMs: waitedMs + gatheredMs,
      answers: answers[item],
    }));
  }

  /**
   * Greedy generation, stopped by a control token (see endsGeneration), a stop string, the end of
   * the JSON value when held to JSON (see jsonRootEnd), the token cap or the character cap. The
   * oldest messages are dropped until the prompt fits its budget; the last one is always kept
   * (InputTooLongError if it alone does not fit).
   */
  async generate(input: GenerationInput, signal?: AbortSignal, options: RunOptions = {}): Promise<Generation> {
    const called = performance.now();
    this.admit(options);
    const grammar = input.json
      ? await (this.jsonGrammars ??= new JsonGrammars(this.models.model)).grammarFor(input.json.schema)
      : undefined;
    const prompt = this.fitHistory(input);
    const rest = prompt.tokens.slice(prompt.prefixLength);
    const { result: generated, waitedMs } = await this.onSequences(
      prompt.tokens.slice(0, prompt.prefixLength),
      1,
      ([sequence], runSignal) => this.decodeGreedy(sequence, rest, input, runSignal, grammar),
      signal,
      options,
    );
    this.samplerGarbage.evaluated();
    // A control token inside a JSON string also ends generation: only a whole answer is a stop.
    const complete = generated.stopped && (!grammar || isCompleteJson(grammar, generated.text));
    return {
      text: generated.text,
      finishReason: complete ? 'stop' : 'length',
      promptTokens: prompt.tokens.length,
      completionTokens: generated.tokens.length,
      queueMs: waitedMs,
      firstTokenMs: generated.firstTokenAt === undefined ? undefined : generated.firstTokenAt - called,
    };
  }

  /**
   * Drops the oldest messages until the prompt fits. Messages that cannot fit by their length
   * alone are dropped untokenized; each other message is tokenized once to estimate, and the
   * rendered prompt is the final word.
   */
  private fitHistory(input: GenerationInput): Prompt {
    const template = chatMlTemplate(this.models.model);
    const render = (kept: readonly ChatTurn[]) => renderChat(template, input, kept);
    const messages = input.messages.slice(this.oldestThatMayFit(input));
    let first = 0;
    if (messages.length > 1) {
      const estimates = messages.map((m) => this.models.model.tokenize(m.content, false).length + TURN_OVERHEAD_TOKENS);
      let total = render([]).tokens.length + estimates.reduce((a, b) => a + b, 0);
      while (first < messages.length - 1 && total > input.maxInputTokens) total -= estimates[first++];
    }
    for (; first < messages.length - 1; first++) {
      const prompt = render(messages.slice(first));
      if (prompt.tokens.length <= input.maxInputTokens) return prompt;
    }
    const last = messages.slice(-1);
    this.checkLength([input.system, ...input.instructions, last[0].content], input.maxInputTokens);
    const prompt = render(last);
    if (prompt.tokens.length > input.maxInputTokens)
      throw new InputTooLongError(prompt.tokens.length, input.maxInputTokens);
    return prompt;
  }

  /** The oldest message that may fit with every newer one, each counted by its length alone; never past the last. */
  private oldestThatMayFit(input: GenerationInput): number {
    let atLeast = this.minTokens([input.system, ...input.instructions]);
    for (let oldest = input.messages.length - 1; oldest >= 0; oldest--) {
      atLeast += this.minTokens([input.messages[oldest].content]);
      if (atLeast > input.maxInputTokens) return Math.min(oldest + 1, input.messages.length - 1);
    }
    return 0;
  }

  /**
   * The fewest tokens these texts can take, from their UTF-8 length alone: no token stands for
   * more than the vocabulary's longest token text (128 bytes for Qwen2), so this never exceeds the
   * real count.
   */
  private minTokens(texts: readonly string[]): number {
    return texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / this.models.longestTokenBytes), 0);
  }

  /** Refuses, without tokenizing, texts that cannot fit by their length alone. */
  private checkLength(texts: readonly string[], maxInputTokens: number, item?: number, question?: number): void {
    const atLeast = this.minTokens(texts);
    if (atLeast > maxInputTokens)
      throw new InputTooLongError(atLeast, maxInputTokens, { atLeast: true, item, question });
  }

  private async decodeGreedy(
    sequence: LlamaContextSequence,
    rest: readonly Token[],
    limits: Pick<GenerationInput, 'maxTokens' | 'maxChars' | 'onText' | 'stop'>,
    signal: AbortSignal,
    grammar?: LlamaGrammar,
  ) {
    const { model } = this.models;
    const tokens: Token[] = [];
    let text = '';
    let streamed = '';
    // Hands the text over up to maxChars, never a split character and, unless `final`, never what may begin a stop string.
    const publish = (final: boolean) => {
      if (!limits.onText) return;
      const fitted = [...text]
        .slice(0, limits.maxChars)
        .join('')
        .replace(/\uFFFD+$/u, '');
      const ready = final ? fitted : withoutStopStart(fitted, limits.stop);
      if (ready.length > streamed.length) limits.onText(ready.slice(streamed.length));
      streamed = ready;
    };
    const steps = sequence.evaluate([...rest], {
      temperature: 0,
      evaluationPriority: sequencePriority(this.models.pool.orderOf(sequence)),
      grammarEvaluationState: grammar && new LlamaGrammarEvaluationState({ model, grammar }),
    });
    const { generationSteps } = this.models;
    let release: (() => void) | undefined;
    let firstTokenAt: number | undefined;
    try {
      for (let step = 1; tokens.length < limits.maxTokens; step++) {
        if (signal.aborted) throw new RequestAbortedError(signal.reason);
        // Shared: concurrent generations batch together. Held for several steps: a classification
        // waits at most that long, and a chat is not held to one token per classification.
        release ??= await this.models.decodeLock.shared();
        if (step > 1) await generationSteps.startStep(sequence);
        const next = await steps.next();
        generationSteps.stepEnded(sequence);
        firstTokenAt ??= performance.now();
        if (step % GENERATION_STEPS_PER_LOCK === 0) {
          // Still one of the generations others wait for (see GenerationSteps): it takes the lock
          // back at once unless a classification waits for it, and then they wait 5 ms at most.
          release();
          release = undefined;
        }
        if (next.done || endsGeneration(model, next.value)) break;
        tokens.push(next.value);
        const decoded = model.detokenize(tokens).trimStart();
        const stopAt = (grammar && jsonRootEnd(decoded)) ?? stopIndex(decoded, limits.stop);
        text = decoded.slice(0, stopAt);
        if (stopAt !== undefined) {
          publish(true);
          return { tokens, text, stopped: true, firstTokenAt };
        }
        publish(false);
        if ([...text].length > limits.maxChars) return { tokens, text, stopped: false, firstTokenAt };
      }
      publish(true);
      return { tokens, text, stopped: tokens.length < limits.maxTokens, firstTokenAt };
    } finally {
      generationSteps.leave(sequence);
      release?.();
      await steps.return();
    }
  }

  /** Runs work on pooled sequences (one place in the queue); the signal `work` gets also fires at shutdown. */
  private async onSequences<T>(
    prefix: readonly Token[],
    wanted: number,
    work: (sequences: LlamaContextSequence[], signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
    options: RunOptions,
  ): Promise<{ result: T; waitedMs: number }> {
    const { pool } = this.usableModel(options);
    this.samplerGarbage.busy();
    const asked = performance.now();
    let waitedMs = 0;
    try {
      const result = await pool.useSeveral(
        prefix,
        wanted,
        (sequences, runSignal) => {
          waitedMs = performance.now() - asked;
          return work(sequences, runSignal);
        },
        signal,
      );
      return { result, waitedMs };
    } finally {
      if (pool.busy === 0 && pool.queued === 0) this.samplerGarbage.idle();
    }
  }

  private usableModel({ warmUp }: RunOptions): ModelService {
    if (!(this.models.ready || (warmUp && this.models.loaded))) throw new ModelNotReadyError(this.models.state);
    return this.models;
  }
}

/** The persona's system turn (the cached prefix), the client's instructions, then the kept messages. */
function renderChat(template: ChatMlTemplate, input: GenerationInput, messages: readonly ChatTurn[]): Prompt {
  return template.render([
    { role: 'system', content: input.system },
    ...input.instructions.map((content) => ({ role: 'system' as const, content })),
    ...messages,
  ]);
}
