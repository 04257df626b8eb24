import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { RequestSignal } from '../../common/request-signal.js';
import { ChatService } from './chat.service.js';
import { ChatRequestDto } from './dto/chat-request.dto.js';

@Controller('v1/chat')
export class ChatController {
  constructor(private readonly chat: ChatService) {}

  @Post()
  @HttpCode(200)
  async reply(@Body() body: ChatRequestDto, @RequestSignal() signal: AbortSignal) {
    const result = await this.chat.reply(body.messages, body.maxChars, signal);
    return {
      reply: result.text,
      finishReason: result.finishReason,
      usage: { promptTokens: result.promptTokens, completionTokens: result.completionTokens },
    };
  }
}
