import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { sequenceContextSize, type TaskDefinition } from '../../prompts/task-definitions.js';
import { loadTasks, TasksFileError } from '../../prompts/tasks-file.js';
import { ModelService } from '../model/runtime/model.service.js';
import { TaskCatalog } from './task-catalog.js';
import { checkTaskBudgets } from './task-budgets.js';
import { InferenceService } from '../model/inference.service.js';
import { Scheduler } from '../model/scheduling/scheduler.js';
import { TaskKinds } from './task-kinds.js';
import { TaskWarmUpService } from './task-warm-up.js';

/**
 * SIGHUP (`systemctl reload duet`) re-reads TASKS_FILE without reloading the model. A file that is
 * invalid, or needs longer sequences than they were sized for at startup, is refused: the running
 * tasks stay and the log says why. Tasks the file adds or changes are warmed before they are
 * served, while the running ones go on serving (readiness stays up).
 */
@Injectable()
export class TasksReloadService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Tasks');
  private readonly onSignal = () => void this.reload();

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: TaskCatalog,
    private readonly models: ModelService,
    private readonly inference: InferenceService,
    private readonly kinds: TaskKinds,
    private readonly scheduler: Scheduler,
    private readonly warmUp: TaskWarmUpService,
  ) {}

  onApplicationBootstrap(): void {
    process.on('SIGHUP', this.onSignal);
  }

  onApplicationShutdown(): void {
    process.off('SIGHUP', this.onSignal);
  }

  /** Replaces the served tasks with the file's current ones, or keeps them and logs why not. */
  async reload(): Promise<TaskDefinition[] | undefined> {
    try {
      const tasks = loadTasks(this.config.taskOverrides);
      const needed = sequenceContextSize(tasks);
      if (needed > this.models.sequenceContextSize) {
        throw new TasksFileError(
          `TASKS_FILE ${this.config.taskOverrides.file}: needs sequences of ${needed} tokens, sized at startup for ${this.models.sequenceContextSize}: restart to apply it`,
        );
      }
      if (this.models.loaded) {
        checkTaskBudgets(tasks, this.kinds, this.inference, this.config.taskOverrides.file);
        await this.warmUp.warm(tasks.filter((task) => !this.catalog.serves(task)));
      }
      this.catalog.replace(tasks);
      this.scheduler.serveClasses(tasks.map((task) => task.class));
      this.logger.log({ event: 'tasks_reloaded', tasks: tasks.map((task) => `${task.name}:${task.kind}`) });
      return tasks;
    } catch (error) {
      this.logger.error({ event: 'tasks_reload_refused', reason: (error as Error).message });
      return undefined;
    }
  }
}
