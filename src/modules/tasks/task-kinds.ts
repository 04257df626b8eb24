import { Injectable } from '@nestjs/common';
import type { TaskDefinition, TaskKind } from '../../prompts/task-definitions.js';
import { ChatService } from './chat.service.js';
import { ClassifyService } from './classify.service.js';
import { ExtractService } from './extract.service.js';
import type { TaskKindHandler } from './task-kind-handler.js';

/** The handler of every task kind, registered here only. */
@Injectable()
export class TaskKinds {
  private readonly byKind: ReadonlyMap<TaskKind, TaskKindHandler>;

  constructor(classify: ClassifyService, chat: ChatService, extract: ExtractService) {
    const handlers: TaskKindHandler[] = [classify, chat, extract];
    this.byKind = new Map(handlers.map((handler) => [handler.kind, handler]));
  }

  /** The handler of the task's kind. */
  of(task: TaskDefinition): TaskKindHandler {
    return this.byKind.get(task.kind)!;
  }
}
