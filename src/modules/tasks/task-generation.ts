import { admissionOf } from '../../http/request-signal.js';
import type { TaskDefinition } from '../../prompts/task-definitions.js';
import type { Generation, GenerationInput } from '../model/generation/generation.types.js';
import type { InferenceService } from '../model/inference.service.js';
import { namingTask } from './task.errors.js';
import type { MetricsService } from '../metrics/metrics.service.js';

/** Generates for `task`: a prompt over its budget names the task, and tokens are counted under it. */
export async function generateForTask(
  inference: InferenceService,
  metrics: MetricsService,
  task: TaskDefinition,
  input: GenerationInput,
  signal?: AbortSignal,
): Promise<Generation> {
  const generation = await namingTask(inference.generate(input, signal, admissionOf(signal)), () => task.name);
  metrics.countTokens(task.name, 'prompt', generation.promptTokens);
  metrics.countTokens(task.name, 'completion', generation.completionTokens);
  metrics.observeGeneration(task.name, task.class, generation);
  return generation;
}
