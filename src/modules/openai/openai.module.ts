import { Module } from '@nestjs/common';
import { TasksModule } from '../tasks/tasks.module.js';
import { OpenAiController } from './openai.controller.js';
import { OpenAiService } from './openai.service.js';

@Module({ imports: [TasksModule], controllers: [OpenAiController], providers: [OpenAiService] })
export class OpenAiModule {}
