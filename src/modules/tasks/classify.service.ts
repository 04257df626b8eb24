import { Injectable } from '@nestjs/common';
import { admissionOf } from '../../http/request-signal.js';
import { classifyPrompt, WARM_UP_TEXT } from '../../prompts/layouts.js';
import type { ClassifyTask, LabelDefinition } from '../../prompts/task-definitions.js';
import type { ClassificationInput, ClassifiedText } from '../model/classification/classification.types.js';
import { InferenceService } from '../model/inference.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { TaskCatalog } from './task-catalog.js';
import type { TaskKindHandler } from './task-kind-handler.js';
import { InvalidLabelsError, namingTask } from './task.errors.js';

import type {
  BatchItemDto,
  ClassifyBatchDto,
  ClassifyDto,
  LabelOptionsDto,
  TriageBatchDto,
  TriageDto,
} from './dto/classify.dto.js';

export interface TaskAnswer {
  /** null when abstained. */
  label: string | null;
  confidence: number;
  scores: Record<string, number>;
  abstained?: true;
}

interface Asked {
  task: ClassifyTask;
  allowed: readonly LabelDefinition[];
  minConfidence?: number;
}

interface ClassifiedTexts {
  /** Per text, per task asked (in the order asked). */
  answers: TaskAnswer[][];
  promptTokens: number[];
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const byTask = (asked: readonly Asked[], answers: readonly TaskAnswer[]) =>
  Object.fromEntries(asked.map(({ task }, i) => [task.name, answers[i]]));

const byId = (items: readonly BatchItemDto[]) => (item: number) => items[item].id ?? String(item);

/** Classify tasks of the tasks file: one task, or several over one evaluation of the text (triage). */
@Injectable()
export class ClassifyService implements TaskKindHandler<ClassifyTask> {
  readonly kind = 'classify';

  constructor(
    private readonly inference: InferenceService,
    private readonly catalog: TaskCatalog,
    private readonly metrics: MetricsService,
  ) {}

  async classify(taskName: string, { text, ...options }: ClassifyDto, signal?: AbortSignal) {
    const { answers, promptTokens } = await this.ask(this.askedOne(taskName, options), [text], taskName, signal);
    return {
      task: taskName,
      ...answers[0][0],
      usage: { promptTokens: promptTokens[0] },
      model: this.inference.modelName,
    };
  }

  async classifyBatch(taskName: string, { items, ...options }: ClassifyBatchDto, signal?: AbortSignal) {
    const texts = items.map((item) => item.text);
    const { answers, promptTokens } = await this.ask(this.askedOne(taskName, options), texts, taskName, signal);
    const id = byId(items);
    return {
      task: taskName,
      results: answers.map(([answer], item) => ({ id: id(item), ...answer })),
      usage: { promptTokens: sum(promptTokens) },
      model: this.inference.modelName,
    };
  }

  /** Every named classify task (default: all of them) on one text, evaluated once. */
  async triage({ text, tasks }: TriageDto, signal?: AbortSignal) {
    const asked = this.askedMany(tasks);
    const { answers, promptTokens } = await this.ask(asked, [text], 'triage', signal);
    return {
      results: byTask(asked, answers[0]),
      usage: { promptTokens: promptTokens[0] },
      model: this.inference.modelName,
    };
  }

  async triageBatch({ items, tasks }: TriageBatchDto, signal?: AbortSignal) {
    const asked = this.askedMany(tasks);
    const texts = items.map((item) => item.text);
    const { answers, promptTokens } = await this.ask(asked, texts, 'triage', signal);
    const id = byId(items);
    return {
      results: answers.map((perTask, item) => ({ id: id(item), results: byTask(asked, perTask) })),
      usage: { promptTokens: sum(promptTokens) },
      model: this.inference.modelName,
    };
  }

  /**
   * Pays in advance what the task's first request with its default labels would: the shared start
   * evaluated (kept cached by the pool), the question tokenized and the label vocabulary scanned.
   * Counts no tokens: no client asked.
   */
  fixedPrompt(task: ClassifyTask) {
    const { system, lead, trail, prompt } = classifyPrompt(task, task.labels);
    return {
      text: system + lead + trail + prompt,
      what: 'its instruction and labels',
    };
  }

  publicView(task: ClassifyTask) {
    return task;
  }

  async warm(task: ClassifyTask): Promise<void> {
    await this.inference.classify(classificationInput([{ task, allowed: task.labels }], [WARM_UP_TEXT]), undefined, {
      warmUp: true,
    });
  }

  private askedOne(taskName: string, options: LabelOptionsDto): Asked[] {
    const task = this.catalog.get(taskName, 'classify');
    return [{ task, allowed: allowedLabels(task, options.labels), minConfidence: options.minConfidence }];
  }

  private askedMany(taskNames: readonly string[] | undefined): Asked[] {
    const tasks = taskNames
      ? taskNames.map((name) => this.catalog.get(name, 'classify'))
      : this.catalog.ofKind('classify');
    return tasks.map((task) => ({ task, allowed: task.labels }));
  }

  /** `metricsTask`: the task name tokens are counted under ("triage" for several). */
  private async ask(
    asked: readonly Asked[],
    texts: readonly string[],
    metricsTask: string,
    signal?: AbortSignal,
  ): Promise<ClassifiedTexts> {
    const classified = await namingTask(
      this.inference.classify(classificationInput(asked, texts), signal, admissionOf(signal)),
      (error) => asked[error.options.question ?? 0].task.name,
    );
    for (const text of classified) this.metrics.countTokens(metricsTask, 'prompt', text.promptTokens);
    this.metrics.observeQueueWait(metricsTask, trafficClassOf(asked), classified[0].queueMs);
    const answers = classified.map((text) =>
      text.answers.map((answer, question) => toTaskAnswer(asked[question], answer)),
    );
    for (const perTask of answers)
      perTask.forEach((answer, question) => this.metrics.countLabel(asked[question].task.name, answer.label));
    return { promptTokens: classified.map((text) => text.promptTokens), answers };
  }
}

function classificationInput(asked: readonly Asked[], texts: readonly string[]): ClassificationInput {
  return {
    texts,
    questions: asked.map(({ task, allowed }) => ({
      ...classifyPrompt(task, allowed),
      labels: allowed.map((label) => label.name),
      maxInputTokens: task.maxInputTokens,
    })),
    trafficClass: trafficClassOf(asked),
  };
}

/** A request asking several tasks is as urgent as the most urgent of them. */
const trafficClassOf = (asked: readonly Asked[]) =>
  asked.some(({ task }) => task.class === 'interactive') ? 'interactive' : 'batch';

function allowedLabels(task: ClassifyTask, subset: readonly string[] | undefined): readonly LabelDefinition[] {
  if (!subset) return task.labels;
  const names = task.labels.map((label) => label.name);
  const unknown = subset.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new InvalidLabelsError(
      `labels: ${unknown.map((name) => `"${name}"`).join(', ')} not a label of task "${task.name}"; its labels: ${names.join(', ')}`,
    );
  }
  return task.labels.filter((label) => subset.includes(label.name));
}

function toTaskAnswer({ allowed, task, minConfidence }: Asked, answer: ClassifiedText['answers'][number]): TaskAnswer {
  const confidence = answer.probabilities[answer.chosen];
  const threshold = minConfidence ?? task.minConfidence;
  const scores = Object.fromEntries(allowed.map((label, i) => [label.name, answer.probabilities[i]]));
  if (threshold !== undefined && confidence < threshold) return { label: null, confidence, scores, abstained: true };
  return { label: allowed[answer.chosen].name, confidence, scores };
}
