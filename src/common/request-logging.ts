import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

/**
 * One JSON line per request: id, method, route, status, latency. Request and response bodies are
 * added only with LOG_CONTENT=true, so customer text stays out of logs by default.
 */
export function registerRequestLogging(fastify: FastifyInstance, logger: LoggerService, logContent: boolean): void {
  const responses = new WeakMap<object, unknown>();
  if (logContent) {
    fastify.addHook('onSend', async (request, _reply, payload) => {
      responses.set(request, payload);
      return payload;
    });
  }
  fastify.addHook('onResponse', async (request, reply) => {
    logger.log(
      {
        event: 'request',
        requestId: request.id,
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(logContent ? { requestBody: request.body, responseBody: responses.get(request) } : {}),
      },
      'Http',
    );
  });
}
