import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { AppConfig } from '../config/app-config.js';
import { ErrorResponses, type ErrorResponse } from '../http/error-responses.js';
import { toHttpException } from './error-statuses.js';

/** No error body is larger, whatever the error carries (an echoed URL, a client's field names). */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;

/** The error shape of Duet's own routes. */
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

/**
 * OpenAI's error envelope, on the routes OpenAI's clients call: their SDKs show `error.message`
 * and nothing of another shape. `param` names the first field a 400 lists.
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Paths of OpenAI's API (and below them): they answer errors in its envelope, with Duet's statuses. */
export const OPENAI_PATHS = ['/v1/chat/completions', '/v1/models'];

const isOpenAiPath = (path: string) => OPENAI_PATHS.some((root) => path === root || path.startsWith(`${root}/`));

const OPENAI_ERROR_TYPES: Partial<Record<number, string>> = {
  [HttpStatus.UNAUTHORIZED]: 'authentication_error',
  [HttpStatus.FORBIDDEN]: 'permission_error',
  [HttpStatus.NOT_FOUND]: 'not_found_error',
  [HttpStatus.TOO_MANY_REQUESTS]: 'rate_limit_error',
};

function openAiBody({ statusCode, message, details }: ErrorBody): OpenAiErrorBody {
  const field = Array.isArray(details) ? (details[0] as { field?: unknown } | undefined)?.field : undefined;
  const type = OPENAI_ERROR_TYPES[statusCode] ?? (statusCode >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message, type, param: typeof field === 'string' ? field : null, code: null } };
}

type Render = (body: ErrorBody) => ErrorBody | OpenAiErrorBody;
const asDuet: Render = (body) => body;

/**
 * The error shape a request gets, decided here only: OpenAI's on the OpenAI-compatible routes
 * (the route Fastify matched, else the path, so a 404 on or below one of them is OpenAI's too),
 * Duet's on every other.
 */
function renderFor(request: FastifyRequest): Render {
  const route = request.routeOptions.url ?? request.url.split('?')[0];
  return isOpenAiPath(route) ? openAiBody : asDuet;
}

/** Duet's error body for an exception. */
export function errorBody(exception: unknown, maxBodyBytes: number): ErrorBody {
  return withinCap(describe(exception, maxBodyBytes), asDuet);
}

/** The status and the body in the request's route's error shape. */
export function errorResponse(exception: unknown, maxBodyBytes: number, request: FastifyRequest) {
  const render = renderFor(request);
  const body = withinCap(describe(exception, maxBodyBytes), render);
  return { statusCode: body.statusCode, body: render(body) };
}

/** The app's answer to ErrorResponses: the route's error shape, within the body limit's hints. */
@Injectable()
export class RouteErrorResponses extends ErrorResponses {
  constructor(private readonly config: AppConfig) {
    super();
  }

  render(error: unknown, request: FastifyRequest): ErrorResponse {
    return errorResponse(error, this.config.maxBodyBytes, request);
  }
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

/** An oversize body, as rendered, loses its details (the optional part), then the end of its message. */
function withinCap(body: ErrorBody, render: Render): ErrorBody {
  const over = Buffer.byteLength(JSON.stringify(render(body))) - MAX_ERROR_BODY_BYTES;
  if (over <= 0) return body;
  if (body.details !== undefined) return withinCap(withStatus(body.statusCode, body.message), render);
  // Cutting n characters saves at least n bytes; the ellipsis costs 3 (a cut surrogate pair 6).
  return withinCap(
    withStatus(body.statusCode, `${body.message.slice(0, Math.max(0, body.message.length - over - 6))}…`),
    render,
  );
}
