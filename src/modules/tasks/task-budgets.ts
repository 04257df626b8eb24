import { CLASSIFIER_SYSTEM_PROMPT, chatSystemPrompt, classifyQuestion, MESSAGE_LEAD } from '../../prompts/layouts.js';
import type { TaskDefinition } from '../../prompts/task-definitions.js';
import { TasksFileError } from '../../prompts/tasks-file.js';
import type { InferenceService } from '../model/inference.service.js';

/** ChatML's turn markers and role names around a prompt's fixed parts (a few tokens; 16 is generous). */
const TEMPLATE_TOKENS = 16;
/** The least room a task must leave for the text or conversation a request brings. */
const MIN_INPUT_ROOM = 32;

/**
 * Every task's fixed prompt (system prompt, instruction and labels, or persona) must leave room in
 * its maxInputTokens for what a request brings, or every request of it would be a 413. Checked
 * with the model's tokenizer once it is loaded, at startup and on reload.
 */
export function checkTaskBudgets(tasks: readonly TaskDefinition[], inference: InferenceService, file?: string): void {
  for (const task of tasks) {
    const fixedText =
      task.kind === 'classify'
        ? CLASSIFIER_SYSTEM_PROMPT + MESSAGE_LEAD + classifyQuestion(task, task.labels)
        : chatSystemPrompt(task);
    const fixed = inference.countTokens(fixedText) + TEMPLATE_TOKENS;
    if (fixed + MIN_INPUT_ROOM > task.maxInputTokens) {
      const what = task.kind === 'classify' ? 'its instruction and labels' : 'its persona';
      throw new TasksFileError(
        `TASKS_FILE ${file ?? '(built-in)'}: task "${task.name}": ${what} take ${fixed} of its ${task.maxInputTokens} maxInputTokens, leaving less than ${MIN_INPUT_ROOM} for the input; shorten them or raise maxInputTokens`,
      );
    }
  }
}
