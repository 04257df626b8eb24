import { Injectable } from '@nestjs/common';
import { chatSystemPrompt, WARM_UP_TEXT } from '../../prompts/layouts.js';
import type { ChatTask } from '../../prompts/task-definitions.js';
import { InferenceService } from '../model/inference.service.js';
import type { ChatTurn, Generation, GenerationInput } from '../model/generation/generation.types.js';
import type { JsonSchema } from '../../prompts/json-schema-support.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ChatDto } from './dto/chat.dto.js';
import { generateForTask } from './task-generation.js';
import { trimReply } from './trim-reply.js';
import { TaskCatalog } from './task-catalog.js';
import type { TaskKindHandler } from './task-kind-handler.js';
import { ChatLimitError } from './task.errors.js';

export const DEFAULT_CHAT_TASK = 'chat';

export interface ChatReply extends Generation {
  task: string;
}

export interface ChatOptions {
  /** Lower than the task's maxChars only (400 above it). */
  maxChars?: number;
  /** Lower than the task's maxTokens only; a higher value is capped. */
  maxTokens?: number;
  /** The client's own system instructions, after the task's persona. */
  instructions?: readonly string[];
  /** Instead of the task's persona (CLIENT_SYSTEM_MESSAGES=replace). */
  replacePersona?: boolean;
  /** Generation ends before the first of these strings. */
  stop?: readonly string[];
  /**
   * A JSON answer, held to `schema` when given: never cut to maxChars or trimmed, and capped at
   * its own `maxTokens` instead of the task's.
   */
  json?: { schema?: JsonSchema; maxTokens: number };
  signal?: AbortSignal;
  onText?: (delta: string) => void;
}

/** Chat tasks of the tasks file: a reply in the task's persona, within its caps. */
@Injectable()
export class ChatService implements TaskKindHandler<ChatTask> {
  readonly kind = 'chat';

  constructor(
    private readonly inference: InferenceService,
    private readonly catalog: TaskCatalog,
    private readonly metrics: MetricsService,
  ) {}

  task(name = DEFAULT_CHAT_TASK): ChatTask {
    return this.catalog.get(name, 'chat');
  }

  /** Duet's own chat routes: the reply, why it ended and the tokens used. */
  async answer(
    taskName: string,
    { messages, maxChars }: ChatDto,
    signal: AbortSignal,
    onText?: (text: string) => void,
  ) {
    const result = await this.reply(this.task(taskName), messages, { maxChars, signal, onText });
    return {
      reply: result.text,
      finishReason: result.finishReason,
      usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
    };
  }

  fixedPrompt(task: ChatTask) {
    return { text: chatSystemPrompt(task), what: 'its persona' };
  }

  /** A chat persona stays server-side: clients see the caps. */
  publicView({ persona: _persona, ...caps }: ChatTask) {
    return caps;
  }

  /** Pays what a first request would (the persona's prefix, one decode step), off the books. */
  async warm(task: ChatTask): Promise<void> {
    await this.inference.generate(
      generationInput(task, [{ role: 'user', content: WARM_UP_TEXT }], { maxTokens: 1 }, task.maxChars),
      undefined,
      { warmUp: true },
    );
  }

  /**
   * Generates a reply. With `onText` the text is also handed over piece by piece as it is decoded;
   * those pieces are cut at `maxChars` but not trimmed back to a sentence end as `text` is.
   */
  async reply(task: ChatTask, messages: readonly ChatTurn[], options: ChatOptions = {}): Promise<ChatReply> {
    const maxChars = options.maxChars ?? task.maxChars;
    if (maxChars > task.maxChars) {
      throw new ChatLimitError(`maxChars must be at most ${task.maxChars} (the ${task.name} task's maxChars)`);
    }
    const generation = await generateForTask(
      this.inference,
      this.metrics,
      task,
      generationInput(task, messages, options, maxChars),
      options.signal,
    );
    return {
      ...generation,
      text: options.json ? generation.text : trimReply(generation.text, maxChars, generation.finishReason === 'stop'),
      task: task.name,
    };
  }
}

/** The model layer's input for a reply of `task`: persona (or the client's replacement), caps, stop strings, JSON format. */
function generationInput(
  task: ChatTask,
  messages: readonly ChatTurn[],
  options: ChatOptions,
  maxChars: number,
): GenerationInput {
  const { json } = options;
  const tokenCap = json ? json.maxTokens : task.maxTokens;
  const instructions = options.instructions ?? [];
  const replaced = options.replacePersona && instructions.length > 0;
  return {
    system: replaced ? instructions.join('\n\n') : chatSystemPrompt(task),
    instructions: replaced ? [] : instructions,
    messages,
    maxInputTokens: task.maxInputTokens,
    maxTokens: Math.min(options.maxTokens ?? tokenCap, tokenCap),
    maxChars: json ? Infinity : maxChars,
    stop: options.stop,
    json: json && { schema: json.schema },
    onText: options.onText,
    trafficClass: task.class,
  };
}
