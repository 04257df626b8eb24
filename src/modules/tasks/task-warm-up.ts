import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import type { TaskDefinition } from '../../prompts/task-definitions.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InferenceService } from '../model/inference.service.js';
import { ModelService, type WarmUpProgress } from '../model/runtime/model.service.js';
import { checkTaskBudgets } from './task-budgets.js';
import { TaskCatalog } from './task-catalog.js';
import { TaskKinds } from './task-kinds.js';

/**
 * Readiness means warm: after the model loads, each served task runs one short request through
 * its own service before the replica reports ready, so a first request costs what later ones do
 * (its prefix already evaluated and cached, its labels already scanned in the vocabulary).
 */
@Injectable()
export class TaskWarmUpService implements OnModuleInit {
  private readonly logger = new Logger('Tasks');

  constructor(
    private readonly config: AppConfig,
    private readonly catalog: TaskCatalog,
    private readonly models: ModelService,
    private readonly inference: InferenceService,
    private readonly kinds: TaskKinds,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.models.warmUpWith((progress) => this.warmServed(progress));
  }

  /** The startup warm-up: every served task, after its budget is checked. */
  private async warmServed(progress: WarmUpProgress): Promise<void> {
    const tasks = this.catalog.all;
    checkTaskBudgets(tasks, this.kinds, this.inference, this.config.taskOverrides.file);
    progress.total = tasks.length;
    await this.warm(tasks, progress);
  }

  /** Warms tasks one after another; one log line and one metric sample per task. */
  async warm(tasks: readonly TaskDefinition[], progress?: WarmUpProgress): Promise<void> {
    for (const task of tasks) {
      const started = performance.now();
      await this.kinds.of(task).warm(task);
      const ms = Math.round(performance.now() - started);
      this.metrics.observeTaskWarmUp(task.name, ms / 1000);
      this.logger.log({ event: 'task_warmed', task: task.name, kind: task.kind, ms });
      if (progress) progress.warmed++;
    }
  }
}
