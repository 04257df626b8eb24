import type { TaskKind } from '../../prompts/task-definitions.js';
import { InputTooLongError } from '../model/model.errors.js';

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

/** A prompt over its task's budget: the model layer's InputTooLongError, named for its task. */
export class TaskInputTooLongError extends Error {
  constructor(
    readonly task: string,
    readonly tooLong: InputTooLongError,
  ) {
    super(tooLong.message);
  }
}

/**
 * The model layer's work for tasks: a prompt over its budget comes back naming its task (the model
 * layer knows questions by position; the client knows them by task name).
 */
export async function namingTask<T>(work: Promise<T>, taskOf: (error: InputTooLongError) => string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw error instanceof InputTooLongError ? new TaskInputTooLongError(taskOf(error), error) : error;
  }
}
