import type { TaskKind } from '../../prompts/task-definitions.js';

// The task layer's failures; src/app/error-statuses.ts decides their statuses.

/** No task of that name: answers 404 and names the known ones. */
export class UnknownTaskError extends Error {
  constructor(
    readonly task: string,
    readonly known: readonly string[],
  ) {
    super(`Unknown task "${task}"; known tasks: ${known.join(', ')}`);
  }
}

/** The task exists but this route serves another kind: answers 400. */
export class WrongTaskKindError extends Error {
  constructor(
    readonly task: string,
    readonly kind: TaskKind,
    readonly expected: TaskKind,
  ) {
    super(`Task "${task}" is a ${kind} task; this route serves ${expected} tasks`);
  }
}

/** A request named a label its task does not have. */
export class InvalidLabelsError extends Error {}

/** The request asked for more than its chat task allows. */
export class ChatLimitError extends Error {}
