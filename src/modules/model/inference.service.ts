import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { answerQuestions } from './classification/answer-questions.js';
import { answerInRounds, answerOneByOne, type AnswerText } from './classification/answer-texts.js';
import { type ClassificationPart, partCount, tokenizeClassification } from './classification/classification-prompt.js';
import type { ClassificationInput, ClassifiedText, LabelAnswer } from './classification/classification.types.js';
import { LabelVocabulary } from './classification/label-scoring.js';
import { fitChatPrompt } from './generation/chat-prompt.js';
import { GreedyDecoder } from './generation/greedy-decoder.js';
import type { Generation, GenerationInput } from './generation/generation.types.js';
import { isCompleteJson, JsonGrammars } from './generation/json-grammars.js';
import { ModelNotReadyError } from './model.errors.js';
import { PromptBudget } from './prompt-budget.js';
import { ModelService } from './runtime/model.service.js';
import { SamplerGarbage } from './runtime/sampler-garbage.js';
import type { Deadline, Ticket, Work } from './scheduling/backlog.js';
import { Scheduler } from './scheduling/scheduler.js';
import { chatMlTemplate } from './tokens/chatml.js';

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export interface RunOptions {
  /** A warm-up's own request: runs while the model is warming, when others are refused. */
  warmUp?: boolean;
  /** When the request's signal fires for its deadline: refused at once if it would finish later, dropped before start if it would at its turn. */
  deadline?: Deadline;
  /** Who sent it, an opaque key: clients of a class take turns (see SequencePool). */
  client?: string;
}

/**
 * The model's primitives, with plain inputs and results: classify texts under questions with
 * closed label sets, and generate a reply. Tokens never leave this layer; failures are the domain
 * errors of model.errors.ts. It knows no task names and no HTTP; when and where work runs is the
 * Scheduler's.
 */
@Injectable()
export class InferenceService {
  private labelVocabulary?: LabelVocabulary;
  private jsonGrammars?: JsonGrammars;
  private readonly samplerGarbage = new SamplerGarbage();

  constructor(
    private readonly models: ModelService,
    private readonly scheduler: Scheduler,
    private readonly config: AppConfig,
  ) {}

  /** The model's own name from its GGUF metadata, else its file name. */
  get modelName(): string {
    return this.models.modelName;
  }

  /**
   * Runs a request's preparation and work once admitted: what would refuse it (not ready, shutting
   * down, queue full, a deadline it would miss) is thrown at once, so a request that cannot run now
   * costs no tokenizing. The pool checks the line again when the request takes its place; nothing
   * between the two yields to another request.
   */
  private async admitted<T>(work: Work, options: RunOptions, run: (ticket: Ticket) => Promise<T>): Promise<T> {
    this.usableModel(options);
    const ticket = this.scheduler.admit(work, options.deadline);
    try {
      return await run(ticket);
    } finally {
      ticket.end();
    }
  }

  /** How many tokens a text takes (special-token text counted as plain text); from the end of loading on. */
  countTokens(text: string): number {
    return this.usableModel({ warmUp: true }).model.tokenize(text, false).length;
  }

  /**
   * Each text is evaluated once after each start its questions have, and every question after it
   * (see answerQuestions); each answer is the label grammar-constrained greedy decoding would give.
   * Every prompt is checked against its budget before anything is evaluated. The questions of one
   * start are scheduled as a piece of the request on a sequence holding that start, one start
   * after another. By default (deterministic mode) the same text always gets bit-identical answers
   * (answerOneByOne); with SENTIMENT_BATCHING=throughput the texts share decode batches
   * (answerInRounds): faster under load, repeatable only to float rounding.
   */
  classify(input: ClassificationInput, signal?: AbortSignal, options: RunOptions = {}): Promise<ClassifiedText[]> {
    // A text is evaluated once per part: a unit each time (see tokenizeClassification).
    const parts = partCount(input.questions);
    const work: Work = {
      trafficClass: input.trafficClass ?? 'batch',
      kind: 'classification',
      units: input.texts.length * parts,
      chars: sum(input.texts.map((text) => text.length)) * parts,
      client: options.client,
    };
    return this.admitted(work, options, (ticket) => this.answerTexts(input, ticket, signal, options));
  }

  private async answerTexts(
    input: ClassificationInput,
    ticket: Ticket,
    signal: AbortSignal | undefined,
    options: RunOptions,
  ): Promise<ClassifiedText[]> {
    const { model, tokenBytes } = this.models;
    const parts = tokenizeClassification(chatMlTemplate(model), input, this.budget());
    const vocabulary = (this.labelVocabulary ??= new LabelVocabulary(model, tokenBytes));
    const answerAll = this.config.sentimentBatching === 'throughput' ? answerInRounds : answerOneByOne;
    const answers: LabelAnswer[][] = input.texts.map(() => []);
    const answerPart = async ({ prefix, texts, questions, asked, ownText }: ClassificationPart, index: number) => {
      const answer: AnswerText = async (lease, sequence, item, padding) => {
        const answered = await answerQuestions(sequence, texts[item], questions, vocabulary, lease.turn, lease.signal, {
          padding,
          priority: lease.priorityOf(sequence),
          chunkTokens: this.config.batchSize,
          ownText,
        });
        answered.forEach((labelAnswer, k) => (answers[item][asked[k]] = labelAnswer));
        for (let i = 0; i < questions.length; i++) this.samplerGarbage.evaluated();
      };
      // A later start is a piece of a request already admitted.
      return answerAll(
        this.scheduler,
        { prefix, trafficClass: ticket.trafficClass, ticket, admitted: index > 0 },
        texts,
        answer,
        signal,
      );
    };
    const waitedMs = await this.keepingMemory(options, async () => {
      const waited: number[] = [];
      for (const [index, part] of parts.entries()) waited.push(await answerPart(part, index));
      return waited[0];
    });
    const tokensOf = (item: number) =>
      sum(
        parts.map(
          ({ prefix, texts, questions }) =>
            prefix.length + texts[item].length + sum(questions.map((q) => q.tokens.length)),
        ),
      );
    return input.texts.map((_, item) => ({ promptTokens: tokensOf(item), queueMs: waitedMs, answers: answers[item] }));
  }

  /**
   * Greedy generation (see GreedyDecoder). The oldest messages are dropped until the prompt fits
   * its budget; the last one is always kept (InputTooLongError if it alone does not fit).
   */
  generate(input: GenerationInput, signal?: AbortSignal, options: RunOptions = {}): Promise<Generation> {
    const called = performance.now();
    const work: Work = {
      trafficClass: input.trafficClass ?? 'interactive',
      kind: 'generation',
      units: 1,
      client: options.client,
    };
    return this.admitted(work, options, (ticket) => this.generateReply(input, called, ticket, signal, options));
  }

  private async generateReply(
    input: GenerationInput,
    called: number,
    ticket: Ticket,
    signal: AbortSignal | undefined,
    options: RunOptions,
  ): Promise<Generation> {
    const { model } = this.models;
    const grammar = input.json
      ? await (this.jsonGrammars ??= new JsonGrammars(model)).grammarFor(input.json.schema)
      : undefined;
    const prompt = fitChatPrompt(chatMlTemplate(model), model, input, this.budget());
    const rest = prompt.tokens.slice(prompt.prefixLength);
    const { result: generated, waitedMs } = await this.keepingMemory(options, () =>
      this.scheduler.runGeneration(
        prompt.tokens.slice(0, prompt.prefixLength),
        (lease) => new GreedyDecoder(model, input).decode(lease, rest, grammar),
        signal,
        ticket,
      ),
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

  private budget(): PromptBudget {
    return new PromptBudget(this.models.longestTokenBytes);
  }

  /** Runs scheduled work; once nothing is running or waiting, the evaluations' freed memory is released. */
  private async keepingMemory<T>(options: RunOptions, run: () => Promise<T>): Promise<T> {
    this.usableModel(options); // again: preparing a generation's grammar may have let a drain begin
    this.samplerGarbage.busy();
    try {
      return await run();
    } finally {
      const { busy, queued } = this.scheduler.load();
      if (busy === 0 && queued === 0) this.samplerGarbage.idle();
    }
  }

  private usableModel({ warmUp }: RunOptions): ModelService {
    if (!(this.models.ready || (warmUp && this.models.loaded))) throw new ModelNotReadyError(this.models.state);
    return this.models;
  }
}
