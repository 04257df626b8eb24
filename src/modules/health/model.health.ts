import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ModelService } from '../model/model.service.js';

/** Up once the model and its context are loaded and sequences can be handed out. */
@Injectable()
export class ModelHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly models: ModelService,
  ) {}

  isHealthy<const Key extends string>(key: Key) {
    const check = this.indicators.check(key);
    const details = this.models.describe();
    return this.models.ready ? check.up(details) : check.down(details);
  }
}
