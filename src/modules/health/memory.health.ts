import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../../config/app-config.js';
import { readProcessMemory } from '../../runtime/process-memory.js';

/** Down when RSS, anonymous RSS + swap, or the V8 heap is over its READY_MAX_* ceiling. */
@Injectable()
export class MemoryHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly config: AppConfig,
  ) {}

  isHealthy<const Key extends string>(key: Key) {
    const memory = readProcessMemory();
    const figures = [
      { name: 'rss', bytes: memory.rssBytes, ceiling: this.config.readyMaxRssBytes },
      { name: 'anonSwap', bytes: memory.rssAnonBytes + memory.swapBytes, ceiling: this.config.readyMaxAnonSwapBytes },
      { name: 'heapUsed', bytes: memory.heapUsedBytes, ceiling: this.config.readyMaxHeapBytes },
    ];
    const details = Object.fromEntries(
      figures.map((f) => [f.name, { mib: toMiB(f.bytes), ceilingMib: f.ceiling ? toMiB(f.ceiling) : null }]),
    );
    const over = figures.filter((f) => f.ceiling > 0 && f.bytes > f.ceiling).map((f) => f.name);
    return over.length ? this.indicators.check(key).down({ ...details, over }) : this.indicators.check(key).up(details);
  }
}

const toMiB = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
