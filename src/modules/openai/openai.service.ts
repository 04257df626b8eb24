import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config.js';
import { InferenceService } from '../model/inference.service.js';
import type { ChatTurn } from '../model/generation/generation.types.js';
import { ChatReply, ChatService } from '../tasks/chat.service.js';
import { lastMessageFromUser } from '../tasks/dto/chat.dto.js';
import { TaskCatalog } from '../tasks/task-catalog.js';
import { ChatCompletionDto, contentText } from './dto/chat-completion.dto.js';
import { NoUserTurnError, UnsupportedFieldError } from './openai.errors.js';

const isInstruction = (role: string) => role === 'system' || role === 'developer';

/** Maps OpenAI's chat completion format onto the chat task, and back. */
@Injectable()
export class OpenAiService {
  constructor(
    private readonly chat: ChatService,
    private readonly catalog: TaskCatalog,
    private readonly inference: InferenceService,
    private readonly config: AppConfig,
  ) {}

  /** The loaded model (the default chat task), then every chat task by name. */
  listModels() {
    const ids = [this.inference.modelName, ...this.catalog.ofKind('chat').map((task) => task.name)];
    return { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'duet' })) };
  }

  /**
   * One completion by the chat task `model` names, else the default one; with `onDelta`, also
   * each piece of text as it is decoded. The client's system (and developer) messages are appended
   * to the task's persona, replace it, or are ignored (CLIENT_SYSTEM_MESSAGES).
   */
  async complete(request: ChatCompletionDto, signal: AbortSignal | undefined, onDelta?: (text: string) => void) {
    this.refuseUnsupported(request);
    const json = this.jsonAnswer(request);
    const task = this.catalog.findChat(request.model) ?? this.chat.task();
    const turns = request.messages
      .filter((m) => !isInstruction(m.role))
      .map((m) => ({ role: m.role, content: contentText(m.content) }) as ChatTurn);
    if (!lastMessageFromUser(turns)) throw new NoUserTurnError();
    const instructions = request.messages.filter((m) => isInstruction(m.role)).map((m) => contentText(m.content));
    const mode = this.config.clientSystemMessages;
    return this.chat.reply(task, turns, {
      maxTokens: request.max_completion_tokens ?? request.max_tokens,
      instructions: mode === 'ignore' ? [] : instructions,
      replacePersona: mode === 'replace',
      stop: request.stop ? [request.stop].flat() : undefined,
      json,
      signal,
      onText: onDelta,
    });
  }

  /** Fields OpenAI defines whose asked-for behaviour Duet does not have: a 400 rather than silence. */
  private refuseUnsupported(request: ChatCompletionDto): void {
    if (request.tools?.length && request.tool_choice !== 'none')
      throw new UnsupportedFieldError('tools', 'tools are not supported: Duet does not call tools');
    if (request.logprobs || (request.top_logprobs !== undefined && request.top_logprobs !== null)) {
      const problem = 'logprobs are not supported: per-token probabilities would make generation 2.5 times slower';
      throw new UnsupportedFieldError(request.logprobs ? 'logprobs' : 'top_logprobs', problem);
    }
  }

  /** response_format json_object or json_schema: a JSON answer within STRUCTURED_MAX_TOKENS. */
  private jsonAnswer({ response_format: format, stop }: ChatCompletionDto) {
    if (!format || format.type === 'text') return undefined;
    // A stop string could cut the JSON short and still read as a finished answer.
    if (stop) throw new UnsupportedFieldError('stop', 'stop cannot be combined with a JSON response_format');
    const schema = format.type === 'json_schema' ? format.json_schema!.schema : undefined;
    return { schema, maxTokens: this.config.structuredMaxTokens };
  }

  /** Fields shared by the response and every stream chunk of one completion. */
  header(object: 'chat.completion' | 'chat.completion.chunk') {
    return {
      id: `chatcmpl-${randomUUID()}`,
      object,
      created: Math.floor(Date.now() / 1000),
      model: this.inference.modelName,
    };
  }

  usage(result: ChatReply) {
    return {
      prompt_tokens: result.promptTokens,
      completion_tokens: result.completionTokens,
      total_tokens: result.promptTokens + result.completionTokens,
    };
  }

  response(result: ChatReply) {
    return {
      ...this.header('chat.completion'),
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: result.text },
          logprobs: null,
          finish_reason: result.finishReason, // OpenAI's own names
        },
      ],
      usage: this.usage(result),
    };
  }

  chunk(header: object, delta: object, finishReason: string | null = null) {
    return { ...header, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }
}
