import type { FastifyReply } from 'fastify';
import { errorBody } from './error-body.js';

/**
 * A text/event-stream response that opens on the first event: an error before any event still
 * leaves as a normal JSON error with its status; one after it becomes an `error` event.
 */
export class ServerSentEvents {
  private opened = false;

  constructor(private readonly reply: FastifyReply) {}

  /** `data:` JSON (or a literal string such as OpenAI's `[DONE]`), with an optional event name. */
  send(data: unknown, event?: string): void {
    if (!this.opened) this.open();
    if (this.reply.raw.destroyed) return;
    const payload = typeof data === 'string' ? data : JSON.stringify(data);
    this.reply.raw.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
  }

  /** Runs `produce` and ends the stream; errors after the stream opened are sent as an `error` event. */
  async run(produce: () => Promise<void>, maxBodyBytes: number): Promise<void> {
    try {
      await produce();
    } catch (error) {
      if (!this.opened) throw error;
      this.send(errorBody(error, maxBodyBytes), 'error');
    }
    if (!this.reply.raw.destroyed) this.reply.raw.end();
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
