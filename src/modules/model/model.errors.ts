// The model layer's failures, as plain errors. Which HTTP status each becomes is decided in one
// place, src/common/http-errors.ts.

/** The model is loading, failed to load, or is draining: nothing can run now. */
export class ModelNotReadyError extends Error {
  constructor(readonly state: string) {
    super(`The model is not ready (${state})`);
  }
}

/** MAX_QUEUE requests already wait for a sequence: refused now, not later. */
export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`All sequences are busy and ${maxQueue} requests are already waiting`);
  }
}

/** The pool stopped for shutdown: a waiting request was never started, or a running one was stopped before it finished. */
export class ShuttingDownError extends Error {
  constructor(readonly started: boolean) {
    super(
      started
        ? 'The service is shutting down and stopped this request at the drain deadline'
        : 'The service is shutting down and did not start this request',
    );
  }
}

/** Why a request's signal fired: its client left, or its deadline passed. */
export type AbortReason = { kind: 'client_gone' } | { kind: 'timeout'; afterMs: number };

/** The request's signal fired: its work was dropped before or while it ran. */
export class RequestAbortedError extends Error {
  readonly deadlineMs?: number;

  constructor(readonly reason: unknown = { kind: 'client_gone' }) {
    const timeout = (reason as AbortReason | undefined)?.kind === 'timeout';
    super(timeout ? 'The request took longer than its deadline' : 'The client closed the request');
    if (timeout) this.deadlineMs = (reason as { afterMs: number }).afterMs;
  }
}

/**
 * A prompt over its budget. `tokens` is the rendered prompt's length, or with `atLeast` a lower
 * bound from the text's length alone (the text was not tokenized). `item` is the text's place in a
 * batch, `question` the question's place among several; `subject` names what the budget belongs
 * to, for the message (the caller knows it, the model layer does not).
 */
export class InputTooLongError extends Error {
  subject?: string;

  constructor(
    readonly tokens: number,
    readonly maxInputTokens: number,
    readonly options: { atLeast?: boolean; item?: number; question?: number } = {},
  ) {
    super(
      `the prompt would be ${options.atLeast ? 'at least ' : ''}${tokens} tokens and at most ${maxInputTokens} are allowed`,
    );
  }
}

/**
 * A JSON schema with a keyword (or a value) the generation grammar cannot enforce; `path` is the
 * JSON pointer of the keyword within the schema.
 */
export class UnsupportedSchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`the JSON schema's ${path} ${problem}`);
  }
}
