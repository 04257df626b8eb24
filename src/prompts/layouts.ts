import type { ChatTask, ClassifyTask, ExtractTask, LabelDefinition } from './task-definitions.js';

/**
 * How a classification is asked. The start is the same for every classify task, so a ticket's
 * text is evaluated once and each task's question follows it as a suffix: a task's answer depends
 * only on its own definition and the text, never on which other tasks exist.
 */
export const CLASSIFIER_SYSTEM_PROMPT =
  'You label customer messages, written in any language. Read the message, then answer the question that ' +
  'follows it with exactly one of the listed labels.';

/** Opens the user turn, before the message text; also task-independent. */
export const MESSAGE_LEAD = 'Message:\n';

/**
 * Follows the message text and opens every task's question. Also task-independent, so it is
 * evaluated once with the text: a triage pays for it once, not once per task.
 */
export const QUESTION_LEAD = '\n\nQuestion:';

/**
 * Labels as a prompt shows them: plain labels on one line (3 to 5 tokens fewer than a list), a list
 * only when labels carry descriptions or commas.
 */
function labelList(labels: readonly LabelDefinition[]): string {
  const plain = labels.every((label) => !label.description && !label.name.includes(','));
  return plain
    ? ` ${labels.map((label) => label.name).join(', ')}`
    : labels.map((label) => `\n- ${label.name}${label.description ? `: ${label.description}` : ''}`).join('');
}

/**
 * The question after QUESTION_LEAD: the task's instruction and the labels allowed for this request.
 * Every question token is paid once per task in a triage, so the question is kept short; the
 * system prompt, not each question, says to answer with one label.
 */
export function classifyQuestion(task: ClassifyTask, allowed: readonly LabelDefinition[]): string {
  return ` ${task.instruction}\nLabels:${labelList(allowed)}`;
}

/**
 * A question-first task's system turn: its instruction and every one of its labels. A request's
 * label subset only restricts the scoring, so the turn, the cached prefix, is the same for every
 * request of the task.
 */
export function questionFirstSystemPrompt(task: ClassifyTask): string {
  return (
    `You label the customer message the user sends, written in any language. ${task.instruction} ` +
    `Reply with exactly one of the labels.\nLabels:${labelList(task.labels)}`
  );
}

/**
 * A classify task's prompt around a text, in the pieces evaluated apart: the start (system turn and
 * `lead`, opening the user turn; the cached prefix), the text, `trail`, then `prompt`. Tasks whose
 * start and trail are equal share one evaluation of a text; with `ownText` the text is the task's
 * alone and is evaluated in one go with what follows it.
 */
export interface ClassifyPrompt {
  system: string;
  lead: string;
  trail: string;
  prompt: string;
  ownText: boolean;
}

/**
 * The prompt asking `task` with `allowed` labels, in the task's layout (see ClassifyLayout):
 * text-first shows the allowed labels in its question; question-first always shows all of them in
 * its system turn, the text alone in the user turn.
 */
export function classifyPrompt(task: ClassifyTask, allowed: readonly LabelDefinition[]): ClassifyPrompt {
  if (task.layout === 'question-first')
    return { system: questionFirstSystemPrompt(task), lead: '', trail: '', prompt: '', ownText: true };
  return {
    system: CLASSIFIER_SYSTEM_PROMPT,
    lead: MESSAGE_LEAD,
    trail: QUESTION_LEAD,
    prompt: classifyQuestion(task, allowed),
    ownText: false,
  };
}

/** An extract task's system prompt: the grammar holds the answer to the schema; the model is shown it too. */
export function extractSystemPrompt(task: ExtractTask): string {
  return (
    `You extract information from the text the user sends. ${task.instruction} ` +
    `Answer with one JSON object only, valid against this JSON schema: ${JSON.stringify(task.schema)}`
  );
}

/** A chat task's system prompt: its persona and its own (not the request's) length cap. */
export function chatSystemPrompt(task: ChatTask): string {
  return `${task.persona} Reply in at most ${task.maxChars} characters, in one or two short sentences.`;
}

/** The text of each task's warm-up request: short, so warming costs little beyond what it pays in advance. */
export const WARM_UP_TEXT = 'Hello.';
