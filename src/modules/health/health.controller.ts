import { Controller, Get, Query, UseFilters } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { gcExposed, releaseFreedMemory } from '../../runtime/collect-garbage.js';
import { AppConfig } from '../../config/app-config.js';
import { HealthCheckFailedFilter } from './health-check-failed.filter.js';
import { MemoryHealthIndicator } from './memory.health.js';
import { MemorySnapshotService } from './memory-snapshot.service.js';
import { ModelHealthIndicator } from './model.health.js';

@SkipThrottle()
@Controller('health')
@UseFilters(HealthCheckFailedFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly model: ModelHealthIndicator,
    private readonly memory: MemoryHealthIndicator,
    private readonly snapshots: MemorySnapshotService,
    private readonly config: AppConfig,
  ) {}

  /** The process answers: for restarts by a supervisor, never depends on the model. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([
      () => this.indicators.check('process').up({ pid: process.pid, uptimeS: Math.round(process.uptime()) }),
    ]);
  }

  /** Ready to take traffic: model loaded, queue not saturated (READY_QUEUE_CHECK), memory under its ceilings. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.model.isHealthy('model'),
      ...(this.config.readyQueueCheck ? [() => this.model.queueHealthy('queue')] : []),
      () => this.memory.isHealthy('memory'),
    ]);
  }

  /**
   * The same figures as the periodic memory_snapshot log line, on demand. `?gc=true` runs a full
   * GC and malloc_trim first when the process was started with --expose-gc (soak runs are;
   * production need not be).
   */
  @Get('memory')
  async memorySnapshot(@Query('gc') gc?: string) {
    if (gc === 'true' && gcExposed()) await releaseFreedMemory();
    return this.snapshots.snapshot();
  }
}
