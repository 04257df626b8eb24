import { HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ErrorResponses } from './error-responses.js';

const logger = new Logger('ServerSentEvents');

/**
 * A text/event-stream response that opens on the first event: an error before any event still
 * leaves as a normal JSON error with its status (400, 413, 503 with Retry-After); one after it
 * becomes an `error` event in the route's error shape, and a log line, since no status code records it.
 */
export class ServerSentEvents {
  private opened = false;

  /**
   * `opening` goes out just before the first event, never alone (OpenAI's role chunk): sending it
   * would commit the 200 before the request is admitted.
   */
  constructor(
    private readonly reply: FastifyReply,
    private readonly errors: ErrorResponses,
    private readonly opening?: unknown,
  ) {}

  /** `data:` JSON (or a literal string such as OpenAI's `[DONE]`), with an optional event name. */
  send(data: unknown, event?: string): void {
    if (!this.opened) {
      this.open();
      if (this.opening !== undefined) this.send(this.opening);
    }
    if (this.reply.raw.destroyed) return;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    this.reply.raw.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
  }

  /** Runs `produce` and ends the stream; errors after the stream opened are sent as an `error` event. */
  async run(produce: () => Promise<void>): Promise<void> {
    try {
      await produce();
    } catch (error) {
      if (!this.opened) throw error;
      const { statusCode, body } = this.errors.render(error, this.reply.request);
      this.logFailure(error, statusCode);
      this.send(body, 'error');
    }
    if (!this.reply.raw.destroyed) this.reply.raw.end();
  }

  /** Names the failure and the route (the line carries the request's requestId), never the request's text. */
  private logFailure(error: unknown, statusCode: number): void {
    const { name, message, stack } = error instanceof Error ? error : new Error(String(error));
    const entry = {
      event: 'stream_failed',
      route: this.reply.request.routeOptions.url,
      statusCode,
      error: { name, message },
      // Our own errors say enough; an unexpected one needs its stack.
      ...(error instanceof HttpException ? {} : { stack }),
    };
    if (statusCode >= 500) logger.error(entry);
    else logger.warn(entry);
  }

  private open(): void {
    this.opened = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
  }
}
