import { HttpException, HttpStatus } from '@nestjs/common';
import { CLIENT_CLOSED_REQUEST } from '../http/response-end.js';
import {
  DeadlineBeforeStartError,
  DeadlineUnreachableError,
  InputTooLongError,
  ModelNotReadyError,
  QueueFullError,
  RefusedError,
  RequestAbortedError,
  ShuttingDownError,
} from '../modules/model/model.errors.js';
import { NoUserTurnError, UnsupportedFieldError } from '../modules/openai/openai.errors.js';
import { UnsupportedSchemaError } from '../prompts/json-schema-support.js';
import { invalidRequest } from '../http/validation.pipe.js';
import {
  ChatLimitError,
  InvalidLabelsError,
  TaskInputTooLongError,
  UnknownTaskError,
  WrongTaskKindError,
} from '../modules/tasks/task.errors.js';

type Mapping = (error: never) => HttpException;

/** 413 naming the task whose budget the prompt is over, and the text's place among several. */
function inputTooLong(e: InputTooLongError, task = 'requested'): HttpException {
  const { atLeast, item } = e.options;
  const where = item === undefined ? '' : ` (item ${item})`;
  return new HttpException(
    {
      message: `Input too long for the ${task} task${where}: ${e.message} (system prompt and template included).`,
      details: {
        [atLeast ? 'minPromptTokens' : 'promptTokens']: e.tokens,
        maxInputTokens: e.maxInputTokens,
        ...(item === undefined ? {} : { item }),
      },
    },
    HttpStatus.PAYLOAD_TOO_LARGE,
  );
}

const retry = (message: string, details?: object) =>
  new HttpException({ message: `${message}; retry shortly.`, details }, HttpStatus.SERVICE_UNAVAILABLE);

/**
 * The one place that decides which HTTP status each domain error is. 503s are the ones a client
 * may retry (the filter adds Retry-After, see retryAfterSeconds); a client that left is a 499, which only logs and
 * metrics ever see.
 */
const MAPPINGS: [new (...args: never[]) => Error, Mapping][] = [
  [ModelNotReadyError, (e: ModelNotReadyError) => retry(e.message, { state: e.state })],
  [QueueFullError, (e: QueueFullError) => retry(e.message, { reason: e.reason, maxQueue: e.maxQueue })],
  [
    DeadlineUnreachableError,
    (e: DeadlineUnreachableError) =>
      retry(e.message, { reason: e.reason, expectedMs: e.expectedMs, deadlineInMs: e.deadlineInMs }),
  ],
  [
    DeadlineBeforeStartError,
    (e: DeadlineBeforeStartError) => retry(e.message, { reason: e.reason, deadlineMs: e.deadlineMs, leftMs: e.leftMs }),
  ],
  [ShuttingDownError, (e: ShuttingDownError) => retry(e.message)],
  [
    RequestAbortedError,
    (e: RequestAbortedError) =>
      e.deadlineMs !== undefined
        ? new HttpException(
            `The request took longer than its deadline (${e.deadlineMs} ms: REQUEST_TIMEOUT_MS, or X-Request-Timeout when shorter)`,
            HttpStatus.GATEWAY_TIMEOUT,
          )
        : new HttpException(e.message, CLIENT_CLOSED_REQUEST),
  ],
  [TaskInputTooLongError, (e: TaskInputTooLongError) => inputTooLong(e.tooLong, e.task)],
  [InputTooLongError, (e: InputTooLongError) => inputTooLong(e)],
  [
    UnknownTaskError,
    (e: UnknownTaskError) =>
      new HttpException({ message: e.message, details: { known: e.known } }, HttpStatus.NOT_FOUND),
  ],
  [WrongTaskKindError, (e: WrongTaskKindError) => new HttpException(e.message, HttpStatus.BAD_REQUEST)],
  [InvalidLabelsError, (e: InvalidLabelsError) => new HttpException(e.message, HttpStatus.BAD_REQUEST)],
  [ChatLimitError, (e: ChatLimitError) => new HttpException(e.message, HttpStatus.BAD_REQUEST)],
  [NoUserTurnError, (e: NoUserTurnError) => new HttpException(e.message, HttpStatus.BAD_REQUEST)],
  [UnsupportedFieldError, (e: UnsupportedFieldError) => invalidRequest([{ field: e.field, problems: [e.problem] }])],
  [
    UnsupportedSchemaError,
    (e: UnsupportedSchemaError) =>
      new HttpException({ message: `Unsupported JSON schema: ${e.message}`, details: { path: e.path } }, 400),
  ],
];

/** A domain error as the HttpException it answers with; anything else unchanged. */
export function toHttpException(error: unknown): unknown {
  const mapping = MAPPINGS.find(([type]) => error instanceof type);
  return mapping ? mapping[1](error as never) : error;
}

/** A 503's Retry-After: a refusal's own estimate of when room frees up, else a second. */
export function retryAfterSeconds(error: unknown): number {
  return error instanceof RefusedError ? error.retryAfterSeconds : 1;
}
