import { Injectable } from '@nestjs/common';
import { extractSystemPrompt, WARM_UP_TEXT } from '../../prompts/layouts.js';
import type { ExtractTask } from '../../prompts/task-definitions.js';
import type { GenerationInput } from '../model/generation/generation.types.js';
import { InferenceService } from '../model/inference.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ExtractDto } from './dto/extract.dto.js';
import { generateForTask } from './task-generation.js';
import { TaskCatalog } from './task-catalog.js';
import type { TaskKindHandler } from './task-kind-handler.js';

/** Extract tasks of the tasks file: a JSON object, held to the task's schema by a grammar. */
@Injectable()
export class ExtractService implements TaskKindHandler<ExtractTask> {
  readonly kind = 'extract';

  constructor(
    private readonly inference: InferenceService,
    private readonly catalog: TaskCatalog,
    private readonly metrics: MetricsService,
  ) {}

  fixedPrompt(task: ExtractTask) {
    return { text: extractSystemPrompt(task), what: 'its instruction and schema' };
  }

  publicView(task: ExtractTask) {
    return task;
  }

  /** Pays in advance what the task's first request would (its prefix, its schema's grammar), off the books. */
  async warm(task: ExtractTask): Promise<void> {
    await this.inference.generate({ ...extractionInput(task, WARM_UP_TEXT), maxTokens: 1 }, undefined, {
      warmUp: true,
    });
  }

  /** `data` is the answer, valid against the schema, when finishReason is `stop`; null when the token cap cut it. */
  async extract(taskName: string, { text }: ExtractDto, signal: AbortSignal) {
    const task = this.catalog.get(taskName, 'extract');
    const generation = await generateForTask(this.inference, this.metrics, task, extractionInput(task, text), signal);
    return {
      task: task.name,
      data: generation.finishReason === 'stop' ? (JSON.parse(generation.text) as unknown) : null,
      finishReason: generation.finishReason,
      usage: { promptTokens: generation.promptTokens, completionTokens: generation.completionTokens },
      model: this.inference.modelName,
    };
  }
}

function extractionInput(task: ExtractTask, text: string): GenerationInput {
  return {
    system: extractSystemPrompt(task),
    instructions: [],
    messages: [{ role: 'user', content: text }],
    maxInputTokens: task.maxInputTokens,
    maxTokens: task.maxTokens,
    maxChars: Infinity,
    json: { schema: task.schema },
    trafficClass: task.class,
  };
}
