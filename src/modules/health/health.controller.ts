import { Controller, Get, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { HealthCheckFailedFilter } from './health-check-failed.filter.js';
import { ModelHealthIndicator } from './model.health.js';

@Controller('health')
@UseFilters(HealthCheckFailedFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly model: ModelHealthIndicator,
  ) {}

  /** The process answers: for restarts by a supervisor, never depends on the model. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid, uptimeS: Math.round(process.uptime()) })]);
  }

  /** Ready to serve: the model is loaded. 503 with every indicator's detail otherwise. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.model.isHealthy('model')]);
  }
}
