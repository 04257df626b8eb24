import { existsSync } from 'node:fs';
import { createApp } from './app.factory.js';
import { exitWith } from './common/exit-codes.js';
import { drainOnSignals } from './common/graceful-shutdown.js';
import { JsonLogger } from './common/json-logger.js';
import { mallocTrimAvailable } from './common/malloc-trim.js';
import { AppConfig } from './config/app-config.js';
import { noticeOnStderr, progressBar, pullModel } from './model-pull/pull-model.js';
import { checkModelFile, ModelService } from './modules/model/model.service.js';

async function bootstrap(): Promise<void> {
  const config = AppConfig.fromEnvironment();
  if (config.modelPathIsDefault && !existsSync(config.modelPath)) {
    process.stderr.write(`duet: no model at ${config.modelPath}; downloading ${config.modelUrl}\n`);
    await pullModel({
      url: config.modelUrl,
      destination: config.modelPath,
      sha256: config.modelSha256,
      allowHttp: config.modelAllowHttp,
      onProgress: progressBar(),
      onNotice: noticeOnStderr,
    });
  }
  checkModelFile(config.modelPath);
  const logger = new JsonLogger(config.logLevel);
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
  const app = await createApp(config, logger);
  drainOnSignals(app, config, logger, exitWith);
  await app.listen({ port: config.port, host: config.host });
  logger.log({ event: 'listening', host: config.host, port: config.port }, 'Bootstrap');
  // Listening first lets /health/live answer and /health/ready say "loading", then "warming" (the
  // tasks' budgets checked and each task warmed), before it turns 200.
  await app.get(ModelService).load();
}

bootstrap().catch(exitWith);
