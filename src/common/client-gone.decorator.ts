import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/**
 * An AbortSignal that fires when the client goes away before its response is sent, so the
 * request's generation stops and its sequence (or queue place) goes to someone still waiting.
 */
export const ClientGone = createParamDecorator((_data: unknown, context: ExecutionContext): AbortSignal => {
  const response = context.switchToHttp().getResponse<FastifyReply>().raw;
  const controller = new AbortController();
  let finished = false;
  response.once('finish', () => (finished = true));
  response.once('close', () => {
    if (!finished) controller.abort();
  });
  return controller.signal;
});
