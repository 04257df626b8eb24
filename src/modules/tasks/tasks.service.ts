import { Injectable } from '@nestjs/common';
import type { TaskDefinition } from '../../prompts/task-definitions.js';
import { TaskCatalog } from './task-catalog.js';

/** What GET /v1/tasks tells clients: kinds, labels and caps; a chat persona stays server-side. */
function publicView(task: TaskDefinition) {
  if (task.kind === 'chat') {
    const { persona: _persona, ...caps } = task;
    return caps;
  }
  return task;
}

@Injectable()
export class TasksService {
  constructor(private readonly catalog: TaskCatalog) {}

  describe() {
    return { tasks: this.catalog.all.map(publicView) };
  }
}
