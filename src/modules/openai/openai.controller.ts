import { Body, Controller, Get, HttpCode, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RequestSignal } from '../../http/request-signal.js';
import { ServerSentEvents } from '../../http/server-sent-events.js';
import { ErrorResponses } from '../../http/error-responses.js';
import { ChatCompletionDto } from './dto/chat-completion.dto.js';
import { OpenAiService } from './openai.service.js';

/** OpenAI-compatible subset: chat completions (plain and streamed) and the model list. */
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly openai: OpenAiService,
    private readonly errors: ErrorResponses,
  ) {}

  @Get('models')
  models() {
    return this.openai.listModels();
  }

  @Post('chat/completions')
  @HttpCode(200)
  async complete(
    @Body() body: ChatCompletionDto,
    @RequestSignal() signal: AbortSignal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (!body.stream) return this.openai.response(await this.openai.complete(body, signal));
    const header = this.openai.header('chat.completion.chunk');
    // The role chunk waits for the reply's first piece: until then a 400, 413 or 503 is still a status.
    const events = new ServerSentEvents(
      reply,
      this.errors,
      this.openai.chunk(header, { role: 'assistant', content: '' }),
    );
    await events.run(async () => {
      const result = await this.openai.complete(body, signal, (content) =>
        events.send(this.openai.chunk(header, { content })),
      );
      events.send(this.openai.chunk(header, {}, result.finishReason));
      if (body.stream_options?.include_usage) events.send({ ...header, choices: [], usage: this.openai.usage(result) });
      events.send('[DONE]');
    });
  }
}
