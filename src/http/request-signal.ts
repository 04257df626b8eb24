import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { AbortReason } from '../runtime/abort-reason.js';
import { acceptedKey } from './api-keys.js';
import { onResponseEnd } from './response-end.js';
import { invalidRequest } from './validation.pipe.js';

/** The header a client shortens its request's deadline with, in milliseconds. */
export const REQUEST_TIMEOUT_HEADER = 'x-request-timeout';

interface Watched {
  controller: AbortController;
  timer: NodeJS.Timeout;
  /** What is wrong with the request's X-Request-Timeout, if anything: a 400 on the routes that run work. */
  problem?: string;
}

const requests = new WeakMap<object, Watched>();
/** What the model layer admits and schedules a request by (see RunOptions). */
export interface Admission {
  /** When the request's signal fires for its deadline: `at` on performance.now()'s clock, `ms` after arrival. */
  deadline: { at: number; ms: number };
  /** Who sent it: the API key it was let in with (as the key check names it), else its address. */
  client: string;
}

const admissions = new WeakMap<AbortSignal, Admission>();

/**
 * The request's time limit in milliseconds: X-Request-Timeout when it is a positive integer, capped
 * at `maxMs` (REQUEST_TIMEOUT_MS); `maxMs` without the header; else what is wrong with it.
 */
export function requestTimeout(header: string | string[] | undefined, maxMs: number): number | { problem: string } {
  if (header === undefined) return maxMs;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!/^\s*0*[1-9][0-9]{0,15}\s*$/.test(value))
    return { problem: `must be a positive integer of milliseconds, got '${value.slice(0, 40)}'` };
  return Math.min(Number(value), maxMs);
}

/**
 * Gives every request an AbortSignal that fires when its client goes away before the response is
 * sent (reason `client_gone`) or when its deadline passes (reason `timeout`), so its generation
 * stops and its sequence or queue place goes to someone still waiting. The deadline is
 * REQUEST_TIMEOUT_MS after arrival, or sooner with X-Request-Timeout.
 */
export function registerRequestSignals(fastify: FastifyInstance, timeoutMs: number): void {
  fastify.addHook('onRequest', async (request) => {
    const controller = new AbortController();
    const asked = requestTimeout(request.headers[REQUEST_TIMEOUT_HEADER], timeoutMs);
    const afterMs = typeof asked === 'number' ? asked : timeoutMs;
    const timedOut: AbortReason = { kind: 'timeout', afterMs };
    const timer = setTimeout(() => controller.abort(timedOut), afterMs).unref();
    const client = acceptedKey(request) ?? `ip:${request.ip}`;
    admissions.set(controller.signal, { deadline: { at: performance.now() + afterMs, ms: afterMs }, client });
    requests.set(request, { controller, timer, problem: typeof asked === 'number' ? undefined : asked.problem });
  });
  onResponseEnd(fastify, (request, _reply, sent) => {
    const watched = requests.get(request);
    if (!watched) return; // answered before its signal was made (refused API key)
    clearTimeout(watched.timer);
    if (!sent) watched.controller.abort({ kind: 'client_gone' } satisfies AbortReason);
  });
}

/** The deadline and client of the request whose signal (RequestSignal's) this is; none for work of no request (a warm-up). */
export function admissionOf(signal: AbortSignal | undefined): Partial<Admission> {
  return (signal && admissions.get(signal)) ?? {};
}

/**
 * The request's AbortSignal (see registerRequestSignals). A malformed X-Request-Timeout is a 400
 * here, on the routes that run work, rather than for every route.
 */
export const RequestSignal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AbortSignal | undefined => {
    const watched = requests.get(context.switchToHttp().getRequest<FastifyRequest>());
    if (watched?.problem) throw invalidRequest([{ field: 'X-Request-Timeout', problems: [watched.problem] }]);
    return watched?.controller.signal;
  },
);
