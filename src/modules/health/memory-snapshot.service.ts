import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ModelService } from '../model/runtime/model.service.js';
import { readProcessMemory } from '../../runtime/process-memory.js';

/** The figures a multi-day stability run watches, logged as one JSON line every interval. */
@Injectable()
export class MemorySnapshotService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Memory');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly models: ModelService,
  ) {}

  snapshot() {
    const { busy, queued } = this.models.poolLoad();
    return {
      timestamp: new Date().toISOString(),
      uptimeS: Math.round(process.uptime()),
      requests: this.metrics.requestsByRoute(),
      ...readProcessMemory(),
      activeSequences: busy,
      queueLength: queued,
    };
  }

  onApplicationBootstrap(): void {
    if (this.config.memorySnapshotIntervalS === 0) return;
    this.timer = setInterval(
      () => this.logger.log({ event: 'memory_snapshot', ...this.snapshot() }),
      this.config.memorySnapshotIntervalS * 1000,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
