import {
  CLASSIFIER_SYSTEM_PROMPT,
  chatSystemPrompt,
  classifyQuestion,
  extractSystemPrompt,
  MESSAGE_LEAD,
  QUESTION_LEAD,
} from '../../prompts/layouts.js';
import type { TaskDefinition } from '../../prompts/task-definitions.js';
import { TasksFileError } from '../../prompts/tasks-file.js';
import type { InferenceService } from '../model/inference.service.js';

/** ChatML's turn markers and role names around a prompt's fixed parts (a few tokens; 16 is generous). */
const TEMPLATE_TOKENS = 16;
/** The least room a task must leave for the text or conversation a request brings. */
const MIN_INPUT_ROOM = 32;

/** A task's fixed prompt, and what it is called in the error. */
function fixedPrompt(task: TaskDefinition): [text: string, what: string] {
  switch (task.kind) {
    case 'classify':
      return [
        CLASSIFIER_SYSTEM_PROMPT + MESSAGE_LEAD + QUESTION_LEAD + classifyQuestion(task, task.labels),
        'its instruction and labels',
      ];
    case 'chat':
      return [chatSystemPrompt(task), 'its persona'];
    case 'extract':
      return [extractSystemPrompt(task), 'its instruction and schema'];
  }
}

/**
 * Every task's fixed prompt (system prompt, instruction and labels, or persona) must leave room in
 * its maxInputTokens for what a request brings, or every request of it would be a 413. Checked
 * with the model's tokenizer once it is loaded, at startup and on reload.
 */
export function checkTaskBudgets(tasks: readonly TaskDefinition[], inference: InferenceService, file?: string): void {
  for (const task of tasks) {
    const [fixedText, what] = fixedPrompt(task);
    const fixed = inference.countTokens(fixedText) + TEMPLATE_TOKENS;
    if (fixed + MIN_INPUT_ROOM > task.maxInputTokens) {
      throw new TasksFileError(
        `TASKS_FILE ${file ?? '(built-in)'}: task "${task.name}": ${what} take ${fixed} of its ${task.maxInputTokens} maxInputTokens, leaving less than ${MIN_INPUT_ROOM} for the input; shorten them or raise maxInputTokens`,
      );
    }
  }
}
