import type { Generation, GenerationInput } from '../model/generation/generation.types.js';
import type { InferenceService } from '../model/inference.service.js';
import { namingTask } from './task.errors.js';
import type { MetricsService } from '../metrics/metrics.service.js';

/** Generates for the task named `taskName`: a prompt over its budget names the task, and tokens are counted under it. */
export async function generateForTask(
  inference: InferenceService,
  metrics: MetricsService,
  taskName: string,
  input: GenerationInput,
  signal?: AbortSignal,
): Promise<Generation> {
  const generation = await namingTask(inference.generate(input, signal), () => taskName);
  metrics.countTokens(taskName, 'prompt', generation.promptTokens);
  metrics.countTokens(taskName, 'completion', generation.completionTokens);
  metrics.observeGeneration(taskName, generation);
  return generation;
}
