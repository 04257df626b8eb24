import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse } from 'fastify';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger.js';
import { createApp } from '../../src/app/app.factory.js';
import { createPino } from '../../src/http/logging.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { ModelService } from '../../src/modules/model/runtime/model.service.js';
import { Scheduler } from '../../src/modules/model/scheduling/scheduler.js';
import { fixturePath } from '../fixtures/generate-models.js';

export const TINY_MODEL = fixturePath('tiny');

export interface TestApp {
  app: NestFastifyApplication;
  models: ModelService;
  scheduler: Scheduler;
  post(url: string, payload: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  get(url: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The real application on the tiny fixture model, driven through Fastify's inject (no sockets). */
export async function startTestApp(
  env: Record<string, string> = {},
  options: { load?: boolean; logLines?: string[] } = {},
): Promise<TestApp> {
  // Every suite's apps share one jest process (and its RSS), so the memory ceilings are lifted
  // unless a test sets them.
  const defaults = {
    MODEL_PATH: TINY_MODEL,
    LOG_LEVEL: 'error',
    READY_MAX_RSS_MB: '0',
    READY_MAX_ANON_SWAP_MB: '0',
    READY_MAX_HEAP_MB: '0',
  };
  const loaded = await ConfigModule.load({ ...defaults, ...env });
  const logLines = options.logLines;
  const logger = logLines
    ? createPino(loaded.config.logLevel, { write: (line) => void logLines.push(line.trimEnd()) })
    : createPino('error');
  // nestjs-pino keeps the first logger it is given, process-wide, for lines logged outside a request.
  __resetOutOfContextForTests();
  const app = await createApp(loaded, logger);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const models = app.get(ModelService);
  if (options.load !== false) await models.load();
  const fastify = app.getHttpAdapter().getInstance();
  return {
    app,
    models,
    scheduler: app.get(Scheduler),
    post: (url, payload, headers = {}) =>
      fastify.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', ...headers },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      }),
    get: (url) => fastify.inject({ method: 'GET', url }),
    close: () => app.close(),
  };
}

/** Texts from the shared dev sets: Chinese and English, several lengths. */
export const PROBE_TEXTS = [
  "@united I'm not a child. I'm someone who has an issue with flying and prepares ahead of time.",
  '@AmericanAir great job and great service in and out of SDF this weekend during the winter storm.',
  '很好！百度骑士送货很快',
  '太咸了，没法吃。骑士礼貌。',
  '地理位置很好，在南湖旁边，透过房间的窗户就能看到南湖，很是写意。酒店的服务也不错，就是酒店的地毯看上去太脏了',
  'ok',
];

/**
 * Holds a sequence (an interactive generation outside any request's admission, so the backlog does
 * not count it) until the returned function is called.
 */
export function occupySequence(t: TestApp): () => Promise<void> {
  let free!: () => void;
  const held = t.scheduler.runGeneration([], () => new Promise<void>((resolve) => (free = resolve)));
  return async () => {
    free();
    await held;
  };
}
