import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { toHttpException } from './http-errors.js';

/** No error body is larger, whatever the error carries (an echoed URL, a client's field names). */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;

/** The one error shape every endpoint answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

/**
 * Nest hands Fastify's own errors (body parsing, size, media type) over as HttpExceptions with a
 * plain string; ours carry `{message, details}`. Fastify's terse texts get a hint what to do.
 */
const FASTIFY_HINTS: Partial<Record<number, (maxBodyBytes: number) => string>> = {
  [HttpStatus.PAYLOAD_TOO_LARGE]: (max) => `Request body is larger than the ${max}-byte limit (MAX_BODY_BYTES)`,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: () =>
    'Unsupported media type: send the body as JSON with Content-Type: application/json',
};

export function errorBody(exception: unknown, maxBodyBytes: number): ErrorBody {
  return withinCap(describe(exception, maxBodyBytes));
}

function describe(error: unknown, maxBodyBytes: number): ErrorBody {
  const exception = toHttpException(error);
  if (!(exception instanceof HttpException))
    return withStatus(HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error');
  const statusCode = exception.getStatus();
  const response = exception.getResponse();
  if (typeof response === 'string')
    return withStatus(statusCode, FASTIFY_HINTS[statusCode]?.(maxBodyBytes) ?? response);
  const { message, details } = response as { message?: unknown; details?: unknown };
  return withStatus(
    statusCode,
    Array.isArray(message) ? message.join('; ') : String(message ?? exception.message),
    details,
  );
}

function withStatus(statusCode: number, message: string, details?: unknown): ErrorBody {
  return {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    ...(details === undefined ? {} : { details }),
  };
}

const serializedBytes = (body: ErrorBody) => Buffer.byteLength(JSON.stringify(body));

/** An oversize body loses its details (the optional part), then the end of its message. */
function withinCap(body: ErrorBody): ErrorBody {
  const over = serializedBytes(body) - MAX_ERROR_BODY_BYTES;
  if (over <= 0) return body;
  if (body.details !== undefined) return withinCap(withStatus(body.statusCode, body.message));
  // Cutting n characters saves at least n bytes; the ellipsis costs 3 (a cut surrogate pair 6).
  return withinCap(
    withStatus(body.statusCode, `${body.message.slice(0, Math.max(0, body.message.length - over - 6))}…`),
  );
}
