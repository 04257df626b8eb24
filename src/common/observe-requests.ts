import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { CLIENT_CLOSED_REQUEST } from './http-errors.js';
import type { MetricsService } from '../modules/metrics/metrics.service.js';
import { onResponseEnd } from './response-end.js';

/**
 * One JSON line and one metrics observation per request: id, method, route, status, latency.
 * Observed when the response closes, so requests whose client left are counted too (as 499).
 * Request and response bodies are logged only with LOG_CONTENT=true, so customer text stays out
 * of logs by default.
 */
export function observeRequests(
  fastify: FastifyInstance,
  logger: LoggerService,
  metrics: MetricsService,
  logContent: boolean,
): void {
  const responses = new WeakMap<object, unknown>();
  if (logContent) {
    fastify.addHook('onSend', async (request, _reply, payload) => {
      responses.set(request, payload);
      return payload;
    });
  }
  onResponseEnd(fastify, (request, reply, sent) => {
    const status = sent ? reply.statusCode : CLIENT_CLOSED_REQUEST;
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', status, reply.elapsedTime / 1000);
    logger.log(
      {
        event: 'request',
        requestId: request.id,
        method: request.method,
        url: request.url,
        status,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(logContent ? { requestBody: request.body, responseBody: responses.get(request) } : {}),
      },
      'Http',
    );
  });
}
