import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DynamicModule, type LoggerService, RequestMethod } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Logger, LoggerModule, type Params, PinoLogger } from 'nestjs-pino';
import { type DestinationStream, type Logger as Pino, pino } from 'pino';
import type { AppConfig } from '../config/app-config.js';
import { CLIENT_CLOSED_REQUEST } from './response-end.js';

/** Credentials that never reach a log line, should a request's headers ever be logged. */
const REDACTED_HEADERS = ['req.headers.authorization', 'req.headers["x-api-key"]'];

/**
 * Duet's logger: one JSON object per line with `time` (ISO 8601), `level` (its name), `context` and
 * `message` or the logged object's fields. Written synchronously to stdout: a pino transport would
 * start a worker thread (memory at idle), and a synchronous write loses no line when the process exits.
 */
export function createPino(
  level: AppConfig['logLevel'],
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Pino {
  return pino(
    {
      level,
      base: undefined, // no pid and hostname on every line
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_HEADERS, censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * Nest's logger over `logger` (nestjs-pino's), for the application and for main.ts before the
 * application exists: `log(fields, context)` writes the fields and the context as one line. Lines
 * logged outside a request go to the first pino given here in the process (nestjs-pino keeps it,
 * process-wide); tests that start several apps reset it between them.
 */
export function nestLogger(logger: Pino): LoggerService {
  const params: Params = { pinoHttp: { logger } };
  return new Logger(new PinoLogger(params), params);
}

/** With LOG_CONTENT, each request's Fastify request (its parsed body) and response payload, for its request line. */
const contents = new WeakMap<IncomingMessage, { request: FastifyRequest; responseBody?: unknown }>();

/** Keeps the bodies that the request lines add with LOG_CONTENT=true (an SSE stream's events are not kept). */
export function keepRequestContent(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', async (request) => {
    contents.set(request.raw, { request });
  });
  fastify.addHook('onSend', async (request, _reply, payload) => {
    contents.set(request.raw, { request, responseBody: payload });
    return payload;
  });
}

/**
 * One line per request when its response ends (pino-http, as nestjs-pino's middleware): method, url,
 * status (499 when the client left before the response ended), ms; with LOG_CONTENT the request and
 * response bodies, else no customer text. Every line logged while a request runs carries its
 * `requestId` (Fastify's request id, which middie hands to pino-http). The middleware runs before
 * every Fastify hook Duet adds, so requests refused by the API-key check are logged too.
 */
export function requestLogging(logger: Pino, logContent: boolean): DynamicModule {
  const requestLine = (req: IncomingMessage, res: ServerResponse, { ms }: { ms: number }) => {
    const content = contents.get(req);
    return {
      context: 'Http',
      event: 'request',
      method: req.method,
      url: (req as { originalUrl?: string }).originalUrl ?? req.url,
      status: res.writableEnded ? res.statusCode : CLIENT_CLOSED_REQUEST,
      ms,
      ...(logContent ? { requestBody: content?.request.body, responseBody: content?.responseBody } : {}),
    };
  };
  return LoggerModule.forRoot({
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    pinoHttp: {
      logger,
      quietReqLogger: true,
      quietResLogger: true,
      customAttributeKeys: { reqId: 'requestId', responseTime: 'ms' },
      customSuccessObject: requestLine,
      customErrorObject: (req, res, _error, value) => requestLine(req, res, value),
    },
  });
}
