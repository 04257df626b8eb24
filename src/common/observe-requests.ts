import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { MetricsService } from '../modules/metrics/metrics.service.js';

/**
 * One JSON line and one metrics observation per request: id, method, route, status, latency.
 * Request and response bodies are logged only with LOG_CONTENT=true, so customer text stays out
 * of logs by default.
 */
export function observeRequests(fastify: FastifyInstance, logger: LoggerService, metrics: MetricsService, logContent: boolean): void {
  const responses = new WeakMap<object, unknown>();
  if (logContent) {
    fastify.addHook('onSend', async (request, _reply, payload) => {
      responses.set(request, payload);
      return payload;
    });
  }
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
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
