import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import type { FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/app-config.js';

/**
 * How long a client may take to send a request and keep an idle connection open. Node enforces
 * both receive deadlines from the request's first byte and forgets them once the request has fully
 * arrived, so a request waiting in the queue or streaming its answer is never cut by them
 * (REQUEST_TIMEOUT_MS bounds those). Headers get HEADERS_TIMEOUT_MS; the whole request gets that
 * plus BODY_TIMEOUT_MS, so a body always has at least BODY_TIMEOUT_MS after headers sent in time.
 * No socket inactivity timeout (Fastify's connectionTimeout): a queued request sends no bytes.
 */
export function clientTimeoutOptions(config: AppConfig): FastifyHttpOptions<Server> {
  const receiveMs = config.headersTimeoutMs + config.bodyTimeoutMs;
  return {
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Both: Node checks `http` when creating the server (headersTimeout <= requestTimeout), then
    // Fastify overwrites the server's requestTimeout with its own option (default 0: none).
    requestTimeout: receiveMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: receiveMs,
      // Node looks for expired requests every 30 s by default, which would stretch a 10 s deadline to 40 s.
      connectionsCheckingInterval: Math.min(1000, Math.ceil(config.headersTimeoutMs / 10)),
    },
  };
}

/** Where cut requests are counted (the metrics service). */
export interface ClientTimeoutCounter {
  countClientTimeout(phase: 'headers' | 'body'): void;
}

/**
 * Counts and logs every request cut for arriving too slowly (Fastify answers it 408 and closes the
 * connection): `body` when its headers had arrived, else `headers`.
 */
export function observeClientTimeouts(
  fastify: FastifyInstance,
  logger: LoggerService,
  metrics: ClientTimeoutCounter,
): void {
  // The request whose headers arrived last on each connection; an earlier, complete one means the next one's headers were late.
  const lastRequest = new WeakMap<Socket, IncomingMessage>();
  fastify.addHook('onRequest', async (request) => {
    lastRequest.set(request.raw.socket, request.raw);
  });
  fastify.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return;
    const phase = lastRequest.get(socket)?.complete === false ? 'body' : 'headers';
    metrics.countClientTimeout(phase);
    logger.warn({ event: 'client_timeout', phase }, 'Http');
  });
}
