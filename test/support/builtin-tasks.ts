import type { LlamaModel } from 'node-llama-cpp';
import { chatMlTemplate, type Prompt, type PromptTurn } from '../../src/modules/model/tokens/chatml.js';
import { chatSystemPrompt, classifyPrompt } from '../../src/prompts/layouts.js';
import type { ChatTask, ClassifyTask } from '../../src/prompts/task-definitions.js';
import { loadTasks } from '../../src/prompts/tasks-file.js';

// The built-in tasks as the service renders them, for baselines and references that evaluate the
// same tokens outside the service.

const builtIn = loadTasks();
export const sentimentTask = builtIn.find((task) => task.name === 'sentiment') as ClassifyTask;
export const chatTask = builtIn.find((task) => task.name === 'chat') as ChatTask;
export const SENTIMENT_LABELS = sentimentTask.labels.map((label) => label.name);

/**
 * A classification prompt's three parts in the task's layout, tokenized apart as the service does:
 * the start (system turn and the opening of the user turn), the text with its trail, and the
 * question asking `task` with `labels` allowed, with the opening of the assistant's turn.
 */
export function classificationParts(
  model: LlamaModel,
  text: string,
  task: ClassifyTask,
  labels: readonly string[] = task.labels.map((label) => label.name),
) {
  const template = chatMlTemplate(model);
  const allowed = task.labels.filter((label) => labels.includes(label.name));
  const { system, lead, trail, prompt } = classifyPrompt(task, allowed);
  return {
    prefix: template.classificationStart(system, lead),
    text: template.classificationText(text, trail),
    question: template.classificationQuestion(prompt),
  };
}

/**
 * A classification prompt as one token list: the shared start (the cached prefix), the text and the
 * question asking `task` with `labels` allowed, as the service evaluates it.
 */
export function classificationPrompt(
  model: LlamaModel,
  text: string,
  labels: readonly string[] = SENTIMENT_LABELS,
  task: ClassifyTask = sentimentTask,
): Prompt & { textEnd: number } {
  const parts = classificationParts(model, text, task, labels);
  return {
    tokens: [...parts.prefix, ...parts.text, ...parts.question],
    prefixLength: parts.prefix.length,
    textEnd: parts.prefix.length + parts.text.length,
  };
}

/** The built-in chat task's turns for a conversation, as the service renders them. */
export function chatTurns(messages: readonly PromptTurn[]): PromptTurn[] {
  return [{ role: 'system', content: chatSystemPrompt(chatTask) }, ...messages];
}
