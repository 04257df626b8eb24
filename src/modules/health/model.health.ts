import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ModelService } from '../model/runtime/model.service.js';
import { Scheduler } from '../model/scheduling/scheduler.js';

/** The model and its context are loaded (not loading, draining or failed). */
@Injectable()
export class ModelHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly models: ModelService,
    private readonly scheduler: Scheduler,
  ) {}

  isHealthy<const Key extends string>(key: Key) {
    const check = this.indicators.check(key);
    const details = this.models.describe();
    return this.models.ready ? check.up(details) : check.down(details);
  }

  /** Down while every sequence is busy and MAX_QUEUE requests already wait: new work would get 503. */
  queueHealthy<const Key extends string>(key: Key) {
    const check = this.indicators.check(key);
    if (!this.models.ready) return check.up({ queued: 0 });
    const { pool } = this.scheduler;
    const details = { queued: pool.queued, maxQueue: pool.maxQueue, busySequences: pool.busy, sequences: pool.size };
    return pool.saturated ? check.down(details) : check.up(details);
  }
}
