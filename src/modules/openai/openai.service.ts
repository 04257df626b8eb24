import { BadRequestException, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ChatReply, ChatService } from '../chat/chat.service.js';
import { ModelService } from '../model/model.service.js';
import type { ChatMessage } from '../../prompts/chat.prompt.js';
import { ChatCompletionDto } from './dto/chat-completion.dto.js';

const FINISH_REASON = { stop: 'stop', length: 'length' } as const;

/** Maps OpenAI's chat completion format onto the chat task, and back. */
@Injectable()
export class OpenAiService {
  constructor(
    private readonly chat: ChatService,
    private readonly models: ModelService,
  ) {}

  listModels() {
    return { object: 'list', data: [{ id: this.models.modelName, object: 'model', created: 0, owned_by: 'duet' }] };
  }

  /** One completion; with `onDelta`, also each piece of text as it is decoded. */
  async complete(request: ChatCompletionDto, signal: AbortSignal | undefined, onDelta?: (text: string) => void) {
    const messages = request.messages.filter((m): m is ChatMessage => m.role !== 'system');
    if (messages[messages.length - 1]?.role !== 'user')
      throw new BadRequestException('the last non-system message must be from the user');
    const maxTokens = request.max_completion_tokens ?? request.max_tokens;
    return this.chat.reply(messages, { maxTokens, signal, onText: onDelta });
  }

  /** Fields shared by the response and every stream chunk of one completion. */
  header(object: 'chat.completion' | 'chat.completion.chunk') {
    return {
      id: `chatcmpl-${randomUUID()}`,
      object,
      created: Math.floor(Date.now() / 1000),
      model: this.models.modelName,
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
          finish_reason: FINISH_REASON[result.finishReason],
        },
      ],
      usage: this.usage(result),
    };
  }

  chunk(header: object, delta: object, finishReason: string | null = null) {
    return { ...header, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }
}
