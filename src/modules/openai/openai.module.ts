import { Module } from '@nestjs/common';
import { ChatModule } from '../chat/chat.module.js';
import { OpenAiController } from './openai.controller.js';
import { OpenAiService } from './openai.service.js';

@Module({ imports: [ChatModule], controllers: [OpenAiController], providers: [OpenAiService] })
export class OpenAiModule {}
