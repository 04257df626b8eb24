import type { TaskDefinition } from '../../prompts/task-definitions.js';

/** What every kind of task (classify, chat, extract) does for itself. */
export interface TaskKindHandler<T extends TaskDefinition = TaskDefinition> {
  readonly kind: T['kind'];
  /**
   * The prompt every request of the task carries whatever it brings (system prompt, instruction
   * and labels, persona), and what it is called in the error when it leaves no room for input.
   */
  fixedPrompt(task: T): { text: string; what: string };
  /** One short request of the task through its own path, so the first real one costs what later ones do. */
  warm(task: T): Promise<void>;
  /** What GET /v1/tasks tells clients of the task. */
  publicView(task: T): object;
}
