import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger as Pino } from 'pino';
import { AppModule } from './app.module.js';
import { requireApiKeys } from '../http/api-keys.js';
import { ErrorResponses } from '../http/error-responses.js';
import { clientTimeoutOptions, observeClientTimeouts } from '../http/client-timeouts.js';
import { useBoundedJsonParser } from '../http/json-body.js';
import { discardUnreadBodies } from '../http/lingering-close.js';
import { createPino, keepRequestContent, nestLogger } from '../http/logging.js';
import { observeRequests } from '../http/observe-requests.js';
import { serveOpenApi } from '../http/openapi.js';
import { registerRequestSignals, REQUEST_TIMEOUT_HEADER } from '../http/request-signal.js';
import { createValidationPipe } from '../http/validation.pipe.js';
import type { LoadedConfig } from '../config/config.module.js';
import { MetricsService } from '../modules/metrics/metrics.service.js';

/**
 * Builds the application (used by main.ts and the e2e tests); loading the model and handling
 * signals are the caller's moves.
 */
export async function createApp(
  loaded: LoadedConfig,
  pino: Pino = createPino(loaded.config.logLevel),
): Promise<NestFastifyApplication> {
  const { config } = loaded;
  const logger = nestLogger(pino);
  const adapter = new FastifyAdapter({
    bodyLimit: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    ...clientTimeoutOptions(config),
  });
  // JSON only: Fastify's own JSON parser (within json-body.ts's depth and width limits) and
  // nothing else, so any other body is a 415 (Nest's default parsers would also accept text and forms).
  adapter.getInstance().removeContentTypeParser(['text/plain']);
  useBoundedJsonParser(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(loaded, pino), adapter, {
    logger,
    bodyParser: false,
  });
  observeRequests(adapter.getInstance(), app.get(MetricsService));
  if (config.logContent) keepRequestContent(adapter.getInstance());
  observeClientTimeouts(adapter.getInstance(), logger, app.get(MetricsService));
  discardUnreadBodies(adapter.getInstance(), config.unreadBodyBounds, app.get(MetricsService), logger);
  requireApiKeys(adapter.getInstance(), config, app.get(ErrorResponses));
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: [...config.corsOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'authorization', REQUEST_TIMEOUT_HEADER],
      maxAge: 600,
    });
  }
  registerRequestSignals(adapter.getInstance(), config.requestTimeoutMs);
  app.useGlobalPipes(createValidationPipe());
  serveOpenApi(app);
  return app;
}
