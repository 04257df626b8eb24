import { Body, Controller, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RequestSignal } from '../../common/request-signal.js';
import { ServerSentEvents } from '../../common/server-sent-events.js';
import { AppConfig } from '../../config/app-config.js';
import { ChatReply, ChatService } from './chat.service.js';
import { ChatRequestDto } from './dto/chat-request.dto.js';

const usage = (result: ChatReply) => ({ promptTokens: result.promptTokens, completionTokens: result.completionTokens });

@Controller('v1/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async reply(
    @Body() body: ChatRequestDto,
    @RequestSignal() signal: AbortSignal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const options = { maxChars: body.maxChars, signal };
    if (!body.stream) {
      const result = await this.chat.reply(body.messages, options);
      return { reply: result.text, finishReason: result.finishReason, usage: usage(result) };
    }
    const events = new ServerSentEvents(reply);
    await events.run(async () => {
      const result = await this.chat.reply(body.messages, {
        ...options,
        onText: (text) => events.send({ text }, 'delta'),
      });
      events.send({ finishReason: result.finishReason, usage: usage(result) }, 'done');
    }, this.config.maxBodyBytes);
  }
}
