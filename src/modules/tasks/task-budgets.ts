import type { TaskDefinition } from '../../prompts/task-definitions.js';
import { TasksFileError } from '../../prompts/tasks-file.js';
import type { InferenceService } from '../model/inference.service.js';
import type { TaskKinds } from './task-kinds.js';

/** ChatML's turn markers and role names around a prompt's fixed parts (a few tokens; 16 is generous). */
const TEMPLATE_TOKENS = 16;
/** The least room a task must leave for the text or conversation a request brings. */
const MIN_INPUT_ROOM = 32;

/**
 * Every task's fixed prompt (system prompt, instruction and labels, or persona) must leave room in
 * its maxInputTokens for what a request brings, or every request of it would be a 413. Checked
 * with the model's tokenizer once it is loaded, at startup and on reload.
 */
export function checkTaskBudgets(
  tasks: readonly TaskDefinition[],
  kinds: TaskKinds,
  inference: InferenceService,
  file?: string,
): void {
  for (const task of tasks) {
    const { text, what } = kinds.of(task).fixedPrompt(task);
    const fixed = inference.countTokens(text) + TEMPLATE_TOKENS;
    if (fixed + MIN_INPUT_ROOM > task.maxInputTokens) {
      throw new TasksFileError(
        `TASKS_FILE ${file ?? '(built-in)'}: task "${task.name}": ${what} take ${fixed} of its ${task.maxInputTokens} maxInputTokens, leaving less than ${MIN_INPUT_ROOM} for the input; shorten them or raise maxInputTokens`,
      );
    }
  }
}
