import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { errorResponse } from './error-body.js';
import { retryAfterSeconds, toHttpException } from './error-statuses.js';

/** Every error leaves in its route's shape (see errorResponse); unexpected ones are logged, never echoed. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly config: AppConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const { statusCode, body } = errorResponse(exception, this.config.maxBodyBytes, http.getRequest<FastifyRequest>());
    if (!(toHttpException(exception) instanceof HttpException)) {
      this.logger.error({
        event: 'unhandled_error',
        error: (exception as Error)?.message,
        stack: (exception as Error)?.stack,
      });
    }
    const reply = http.getResponse<FastifyReply>();
    if (statusCode === 503) void reply.header('Retry-After', String(retryAfterSeconds(exception)));
    void reply.status(statusCode).send(body);
  }
}
