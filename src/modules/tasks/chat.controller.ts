import { Body, Controller, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RequestSignal } from '../../http/request-signal.js';
import { ServerSentEvents } from '../../http/server-sent-events.js';
import { ErrorResponses } from '../../http/error-responses.js';
import { ChatService, DEFAULT_CHAT_TASK } from './chat.service.js';
import { ChatDto } from './dto/chat.dto.js';

/** Chat tasks: `/v1/chat` is the task named `chat`, `/v1/chat/{task}` any other. */
@Controller('v1/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly errors: ErrorResponses,
  ) {}

  @Post()
  @HttpCode(200)
  reply(@Body() body: ChatDto, @RequestSignal() signal: AbortSignal, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.respond(DEFAULT_CHAT_TASK, body, signal, reply);
  }

  @Post(':task')
  @HttpCode(200)
  replyAs(
    @Param('task') task: string,
    @Body() body: ChatDto,
    @RequestSignal() signal: AbortSignal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.respond(task, body, signal, reply);
  }

  /** JSON, or with `stream` Server-Sent Events: a `delta` per piece of text, then `done`. */
  private async respond(task: string, body: ChatDto, signal: AbortSignal, reply: FastifyReply) {
    if (!body.stream) return this.chat.answer(task, body, signal);
    const events = new ServerSentEvents(reply, this.errors);
    await events.run(async () => {
      const { reply: _text, ...done } = await this.chat.answer(task, body, signal, (text) =>
        events.send({ text }, 'delta'),
      );
      events.send(done, 'done');
    });
  }
}
