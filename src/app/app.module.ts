import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { Logger as Pino } from 'pino';
import { AllExceptionsFilter } from './all-exceptions.filter.js';
import { ApiThrottlerGuard } from '../http/api-throttler.guard.js';
import { requestLogging } from '../http/logging.js';
import type { LoadedConfig } from '../config/config.module.js';
import { ErrorResponses } from '../http/error-responses.js';
import { RouteErrorResponses } from './error-body.js';
import { DemoModule } from '../modules/demo/demo.module.js';
import { HealthModule } from '../modules/health/health.module.js';
import { MetricsModule } from '../modules/metrics/metrics.module.js';
import { ModelModule } from '../modules/model/model.module.js';
import { OpenAiModule } from '../modules/openai/openai.module.js';
import { TasksModule } from '../modules/tasks/tasks.module.js';

@Module({})
export class AppModule {
  static forRoot({ config, module: configModule }: LoadedConfig, logger: Pino): DynamicModule {
    return {
      module: AppModule,
      // Global for ErrorResponses: the app decides how errors answer, the features' streams use it.
      global: true,
      imports: [
        configModule,
        requestLogging(logger, config.logContent),
        ThrottlerModule.forRoot({
          throttlers: [{ ttl: 60_000, limit: config.rateLimitPerMinute }],
          skipIf: () => config.rateLimitPerMinute === 0,
        }),
        ModelModule,
        MetricsModule,
        TasksModule,
        OpenAiModule,
        HealthModule,
        DemoModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_GUARD, useClass: ApiThrottlerGuard },
        { provide: ErrorResponses, useClass: RouteErrorResponses },
      ],
      exports: [ErrorResponses],
    };
  }
}
