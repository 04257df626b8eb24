import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '../config/app-config.js';
import { errorBody } from './error-body.js';
import { toHttpException } from './http-errors.js';

/** Every error leaves as `{statusCode, error, message, details?}`; unexpected ones are logged, never echoed. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly config: AppConfig) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const body = errorBody(exception, this.config.maxBodyBytes);
    if (!(toHttpException(exception) instanceof HttpException)) {
      this.logger.error({
        event: 'unhandled_error',
        error: (exception as Error)?.message,
        stack: (exception as Error)?.stack,
      });
    }
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (body.statusCode === 503) void reply.header('Retry-After', '1');
    void reply.status(body.statusCode).send(body);
  }
}
