import type { FastifyInstance } from 'fastify';
import { CLIENT_CLOSED_REQUEST, onResponseEnd } from './response-end.js';

/** Where each request's observation goes (the metrics service). */
export interface RequestObserver {
  observeRequest(route: string, status: number, seconds: number): void;
}

/**
 * One metrics observation per request (its matched route, status and latency) when its response
 * closes, so requests whose client left are counted too (as 499). Each request's log line is
 * pino-http's (logging.ts).
 */
export function observeRequests(fastify: FastifyInstance, metrics: RequestObserver): void {
  onResponseEnd(fastify, (request, reply, sent) => {
    const status = sent ? reply.statusCode : CLIENT_CLOSED_REQUEST;
    metrics.observeRequest(request.routeOptions.url ?? 'unmatched', status, reply.elapsedTime / 1000);
  });
}
