import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { AbortReason } from '../runtime/abort-reason.js';
import { onResponseEnd } from './response-end.js';

const requests = new WeakMap<object, { controller: AbortController; deadline: NodeJS.Timeout }>();

/**
 * Gives every request an AbortSignal that fires when its client goes away before the response is
 * sent (reason `client_gone`) or when REQUEST_TIMEOUT_MS passes (reason `timeout`), so its
 * generation stops and its sequence or queue place goes to someone still waiting.
 */
export function registerRequestSignals(fastify: FastifyInstance, timeoutMs: number): void {
  fastify.addHook('onRequest', async (request) => {
    const controller = new AbortController();
    const timedOut: AbortReason = { kind: 'timeout', afterMs: timeoutMs };
    const deadline = setTimeout(() => controller.abort(timedOut), timeoutMs).unref();
    requests.set(request, { controller, deadline });
  });
  onResponseEnd(fastify, (request, _reply, sent) => {
    const watched = requests.get(request);
    if (!watched) return; // answered before its signal was made (refused API key)
    clearTimeout(watched.deadline);
    if (!sent) watched.controller.abort({ kind: 'client_gone' } satisfies AbortReason);
  });
}

/** The request's AbortSignal (see registerRequestSignals). */
export const RequestSignal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AbortSignal | undefined =>
    requests.get(context.switchToHttp().getRequest<FastifyRequest>())?.controller.signal,
);
