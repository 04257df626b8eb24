import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { AbortReason } from '../modules/model/model.errors.js';

const signals = new WeakMap<object, AbortSignal>();

/**
 * Gives every request an AbortSignal that fires when its client goes away before the response is
 * sent (reason `client_gone`) or when REQUEST_TIMEOUT_MS passes (reason `timeout`), so its
 * generation stops and its sequence or queue place goes to someone still waiting.
 */
export function registerRequestSignals(fastify: FastifyInstance, timeoutMs: number): void {
  fastify.addHook('onRequest', async (request, reply) => {
    const controller = new AbortController();
    const timedOut: AbortReason = { kind: 'timeout', afterMs: timeoutMs };
    const deadline = setTimeout(() => controller.abort(timedOut), timeoutMs).unref();
    let finished = false;
    reply.raw.once('finish', () => (finished = true));
    reply.raw.once('close', () => {
      clearTimeout(deadline);
      if (!finished) controller.abort({ kind: 'client_gone' } satisfies AbortReason);
    });
    signals.set(request, controller.signal);
  });
}

/** The request's AbortSignal (see registerRequestSignals). */
export const RequestSignal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AbortSignal | undefined =>
    signals.get(context.switchToHttp().getRequest<FastifyRequest>()),
);
