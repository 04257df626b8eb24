import { existsSync } from 'node:fs';
import { exitWith } from './app/exit-codes.js';
import { createPino, nestLogger } from './http/logging.js';
import { mallocTrimAvailable } from './runtime/malloc-trim.js';
import { ConfigModule } from './config/config.module.js';
import { pullConfiguredModel } from './model-pull/pull-model.js';
import { openModelEarly } from './modules/model/runtime/model-opening.js';
import { checkModelFile, ModelService } from './modules/model/runtime/model.service.js';

async function bootstrap(): Promise<void> {
  const loaded = await ConfigModule.load();
  const { config } = loaded;
  if (config.modelPathIsDefault && !existsSync(config.modelPath)) {
    process.stderr.write(`duet: no model at ${config.modelPath}; downloading ${config.modelUrl}\n`);
    await pullConfiguredModel(config);
  }
  checkModelFile(config.modelPath);
  // The native binary's check (a child process) and the weights' read (llama.cpp's loader thread)
  // run while this thread imports and builds the application: the application is imported after.
  openModelEarly(config);
  const pino = createPino(config.logLevel);
  const logger = nestLogger(pino);
  logger.log({ event: 'config', ...config.forLog() }, 'Bootstrap');
  if (!mallocTrimAvailable()) {
    logger.warn(
      { event: 'malloc_trim_unavailable', effect: 'memory freed by native code stays resident until reused' },
      'Config',
    );
  }
  if (config.threadsClampedFrom) {
    logger.warn({ event: 'threads_clamped', requested: config.threadsClampedFrom, used: config.threads }, 'Config');
  }
  const [{ createApp }, { drainOnSignals }] = await Promise.all([
    import('./app/app.factory.js'),
    import('./app/graceful-shutdown.js'),
  ]);
  const app = await createApp(loaded, pino);
  const models = app.get(ModelService);
  const loading = models.startLoading();
  drainOnSignals(app, models, config, logger, exitWith);
  await app.listen({ port: config.port, host: config.host });
  logger.log({ event: 'listening', host: config.host, port: config.port }, 'Bootstrap');
  // Listening first lets /health/live answer and /health/ready say "loading", then "warming" (the
  // tasks' budgets checked and each task warmed), before it turns 200.
  await loading;
  await models.load();
}

bootstrap().catch(exitWith);
