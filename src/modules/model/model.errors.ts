import type { TrafficClass } from '../../prompts/task-definitions.js';
import type { AbortReason } from '../../runtime/abort-reason.js';

// The model layer's failures, as plain errors. Which HTTP status (or exit code) each becomes is
// decided in the app layer: src/app/error-statuses.ts, src/app/exit-codes.ts.

/** The model is loading, failed to load, or is draining: nothing can run now. */
export class ModelNotReadyError extends Error {
  constructor(readonly state: string) {
    super(`The model is not ready (${state})`);
  }
}

/** Why work was refused, or dropped, before its own tokens were evaluated. */
export const REFUSAL_REASONS = ['queue_full', 'deadline_unreachable', 'deadline_before_start'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * Work refused at admission or dropped before it started: nothing of it ran, so the client may
 * send it again, after `retryAfterSeconds` (a whole number, at least 1).
 */
export abstract class RefusedError extends Error {
  abstract readonly reason: RefusalReason;

  constructor(
    message: string,
    readonly trafficClass: TrafficClass,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** MAX_QUEUE requests already wait for a sequence: refused now, not later. */
export class QueueFullError extends RefusedError {
  readonly reason = 'queue_full';

  constructor(
    readonly maxQueue: number,
    trafficClass: TrafficClass,
    retryAfterSeconds: number,
  ) {
    super(`All sequences are busy and ${maxQueue} requests are already waiting`, trafficClass, retryAfterSeconds);
  }
}

/** Work ahead and its own would take the request past its deadline: refused at once rather than run to a 504. */
export class DeadlineUnreachableError extends RefusedError {
  readonly reason = 'deadline_unreachable';

  constructor(
    readonly expectedMs: number,
    /** How long the request had left before its deadline. */
    readonly deadlineInMs: number,
    trafficClass: TrafficClass,
    retryAfterSeconds: number,
  ) {
    super(
      `The request would take about ${expectedMs} ms with the work ahead of it, past its deadline in ${deadlineInMs} ms`,
      trafficClass,
      retryAfterSeconds,
    );
  }
}

/**
 * The request's deadline passed while its work waited to start, or too little of it was left when
 * the work could start (`leftMs`, less than the work takes): dropped then, rather than run to a 504.
 */
export class DeadlineBeforeStartError extends RefusedError {
  readonly reason = 'deadline_before_start';

  constructor(
    readonly deadlineMs: number,
    trafficClass: TrafficClass,
    retryAfterSeconds: number,
    readonly leftMs?: number,
  ) {
    super(
      leftMs === undefined
        ? `The request's deadline (${deadlineMs} ms) passed before its work could start`
        : `The request's deadline (${deadlineMs} ms) was ${leftMs} ms away when its work could start, less than the work takes: dropped before it started`,
      trafficClass,
      retryAfterSeconds,
    );
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
 * batch, `question` the question's place among several (the caller knows which task each is).
 */
export class InputTooLongError extends Error {
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

/** The model cannot be used as it is (missing, not a usable GGUF file, no working native binary): a restart cannot help. */
export class ModelFileError extends Error {}

/** Loading ran out of memory or hit an I/O error: a restart may succeed. */
export class ModelResourceError extends Error {}

/** Fetching the model file failed: `transient` when the same pull may succeed later. */
export class ModelPullError extends Error {
  /** The same pull may succeed later (network, server or disk trouble), so a restart is worth it. */
  readonly transient: boolean;

  constructor(message: string, options: { transient?: boolean } = {}) {
    super(message);
    this.transient = options.transient ?? false;
  }
}
