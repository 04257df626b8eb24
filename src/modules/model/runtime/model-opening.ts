import type { Llama, LlamaLogLevel, LlamaModel } from 'node-llama-cpp';
import type { AppConfig } from '../../../config/app-config.js';

export type LlamaLog = (level: LlamaLogLevel, message: string) => void;

/** The native runtime and the weights, with how long each took. */
export interface OpenedModel {
  llama: Llama;
  model: LlamaModel;
  runtimeMs: number;
  weightsMs: number;
}

/**
 * getLlama (which first tests the prebuilt binary in a child process) then the weights. Kept apart
 * from ModelService so main.ts can start it before it imports the application: the child process
 * and llama.cpp's loader thread then run while the main thread imports and builds Nest.
 */
async function openModel(config: AppConfig, log: LlamaLog): Promise<OpenedModel> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const started = performance.now();
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    progressLogs: false,
    maxThreads: config.threads,
    logLevel: LlamaLogLevel.warn,
    logger: log,
  });
  const runtimeReady = performance.now();
  try {
    // No mmap: llama.cpp's CPU backend repacks Q4_0/Q4_K weights into its own buffer for faster
    // kernels, so their mapped file pages would only double them in RSS, at no speed cost
    // (docs/benchmark-runs.md#measurements-behind-constants).
    const model = await llama.loadModel({ modelPath: config.modelPath, useMmap: false });
    return {
      llama,
      model,
      runtimeMs: Math.round(runtimeReady - started),
      weightsMs: Math.round(performance.now() - runtimeReady),
    };
  } catch (error) {
    await llama.dispose();
    throw error;
  }
}

interface EarlyOpening {
  modelPath: string;
  opened: Promise<OpenedModel>;
  /** llama.cpp's log lines before ModelService takes the opening over. */
  held: [LlamaLogLevel, string][];
  log?: LlamaLog;
}

let early: EarlyOpening | undefined;

/** Starts opening the model before the application exists (main.ts); ModelService takes it over. */
export function openModelEarly(config: AppConfig): void {
  const opening: EarlyOpening = { modelPath: config.modelPath, held: [], opened: undefined as never };
  opening.opened = openModel(config, (level, message) =>
    opening.log ? opening.log(level, message) : opening.held.push([level, message]),
  );
  opening.opened.catch(() => undefined); // the taker sees the failure
  early = opening;
}

/** The early opening of this model, once (its held log lines replayed to `log`), else a new one. */
export function takeOpenedModel(config: AppConfig, log: LlamaLog): Promise<OpenedModel> {
  const opening = early?.modelPath === config.modelPath ? early : undefined;
  early = undefined;
  if (!opening) return openModel(config, log);
  opening.log = log;
  for (const [level, message] of opening.held.splice(0)) log(level, message);
  return opening.opened;
}
