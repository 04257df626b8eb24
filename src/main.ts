import type { Server } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.factory.js';
import { JsonLogger } from './common/json-logger.js';
import { AppConfig } from './config/app-config.js';
import { ConfigError } from './config/environment.js';
import { checkModelFile, ModelFileError, ModelService } from './modules/model/model.service.js';

/** Startup problems an operator can fix end the process with one line, not a stack trace. */
function exitWith(error: unknown): never {
  const known = error instanceof ConfigError || error instanceof ModelFileError;
  process.stderr.write(`duet: ${known ? (error as Error).message : (error as Error)?.stack ?? String(error)}\n`);
  process.exit(known ? 2 : 1);
}

/**
 * SIGTERM/SIGINT: readiness goes down and new work gets 503, the server stops accepting, in-flight
 * requests finish (up to SHUTDOWN_DRAIN_MS), the model is disposed, and the process exits 0.
 */
function drainOnSignals(app: NestFastifyApplication, config: AppConfig, logger: JsonLogger): void {
  let draining = false;
  const drain = async (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    const started = Date.now();
    logger.log({ event: 'shutdown_started', signal, drainMs: config.shutdownDrainMs }, 'Bootstrap');
    setTimeout(() => {
      logger.error({ event: 'shutdown_deadline_passed', drainMs: config.shutdownDrainMs }, 'Bootstrap');
      process.exit(1);
    }, config.shutdownDrainMs).unref();
    app.get(ModelService).beginDrain();
    // close() only drops keep-alive connections idle at that moment; those that finish their
    // in-flight request later would hold the server open until the deadline.
    const server = app.getHttpServer() as Server;
    const closeIdle = setInterval(() => server.closeIdleConnections(), 50);
    await app.close();
    clearInterval(closeIdle);
    logger.log({ event: 'shutdown_complete', ms: Date.now() - started }, 'Bootstrap');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void drain(s).catch(exitWith));
}

async function bootstrap(): Promise<void> {
  const config = AppConfig.fromEnvironment();
  checkModelFile(config.modelPath);
  const logger = new JsonLogger(config.logLevel);
  logger.log({ event: 'config', ...config }, 'Bootstrap');
  if (config.threadsClampedFrom) {
    logger.warn({ event: 'threads_clamped', requested: config.threadsClampedFrom, used: config.threads }, 'Config');
  }
  const app = await createApp(config, logger);
  drainOnSignals(app, config, logger);
  await app.listen({ port: config.port, host: config.host });
  logger.log({ event: 'listening', host: config.host, port: config.port }, 'Bootstrap');
  // Listening first lets /health/live answer and /health/ready say "loading" while weights load.
  await app.get(ModelService).load();
}

bootstrap().catch(exitWith);
