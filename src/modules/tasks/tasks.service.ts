import { Injectable } from '@nestjs/common';
import { TaskCatalog } from './task-catalog.js';
import { TaskKinds } from './task-kinds.js';

@Injectable()
export class TasksService {
  constructor(
    private readonly catalog: TaskCatalog,
    private readonly kinds: TaskKinds,
  ) {}

  /** GET /v1/tasks: every task as its kind shows it to clients. */
  describe() {
    return { tasks: this.catalog.all.map((task) => this.kinds.of(task).publicView(task)) };
  }
}
