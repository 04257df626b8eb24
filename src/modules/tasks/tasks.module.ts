import { Module } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { ChatController } from './chat.controller.js';
import { ChatService } from './chat.service.js';
import { ClassifyController } from './classify.controller.js';
import { ClassifyService } from './classify.service.js';
import { ExtractController } from './extract.controller.js';
import { ExtractService } from './extract.service.js';
import { TaskCatalog } from './task-catalog.js';
import { TaskKinds } from './task-kinds.js';
import { TaskWarmUpService } from './task-warm-up.js';
import { TasksReloadService } from './tasks-reload.service.js';
import { TasksService } from './tasks.service.js';

/** Every task of the tasks file, served by kind: classify, triage, chat and extract routes. */
@Module({
  controllers: [ClassifyController, ChatController, ExtractController],
  providers: [
    { provide: TaskCatalog, useFactory: (config: AppConfig) => new TaskCatalog(config.tasks), inject: [AppConfig] },
    ClassifyService,
    ChatService,
    ExtractService,
    TaskKinds,
    TasksService,
    TasksReloadService,
    TaskWarmUpService,
  ],
  exports: [TaskCatalog, ChatService],
})
export class TasksModule {}
