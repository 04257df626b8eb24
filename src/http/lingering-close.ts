import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';

/**
 * How the rest of a body ended after its request was answered: `read` (all of it arrived within the
 * bounds and was discarded; the connection stays open), cut at the `bytes` or the `time` bound, or
 * `closed` (the connection closed first, usually by a client that had read its answer).
 */
export const UNREAD_BODY_OUTCOMES = ['read', 'bytes', 'time', 'closed'] as const;
export type UnreadBodyOutcome = (typeof UNREAD_BODY_OUTCOMES)[number];

/** What may be spent reading and discarding a body after its request was answered. */
export interface DiscardBounds {
  /** Body bytes read after the answer; one more and the connection is destroyed. */
  maxBytes: number;
  /** Time after the answer; then the connection is destroyed. */
  maxMs: number;
}

export interface UnreadBodyCounter {
  countUnreadBody(outcome: UnreadBodyOutcome): void;
}

/**
 * Answers given before the request's body arrived (413 for a content-length over MAX_BODY_BYTES,
 * 401, 415, a 503) keep the connection reading and discarding the rest of the body, within
 * `bounds`, so that a client still writing it reads the answer. Fastify sends such a 413 with
 * `connection: close`, and Node then closes the socket right after the answer: the client's next
 * write meets a reset, often before it has read the answer, and "too large" looks like a network
 * failure. Without that header Node discards the rest of the body and keeps the connection, as it
 * did for 401 and 415 with no bound but the request deadline; here bytes and time are bounded,
 * then the connection is destroyed (a lingering close, as nginx's lingering_time).
 */
export function discardUnreadBodies(
  fastify: FastifyInstance,
  bounds: DiscardBounds,
  counter: UnreadBodyCounter,
  logger: LoggerService,
): void {
  fastify.addHook('onSend', async (request, reply, payload) => {
    const incoming = request.raw;
    // An injected request (light-my-request) has no connection to keep reading.
    if (incoming.complete || !(incoming.socket instanceof Socket)) return payload;
    reply.removeHeader('connection');
    discardRest(incoming, incoming.socket, bounds, (outcome, discardedBytes) => {
      counter.countUnreadBody(outcome);
      if (outcome === 'bytes' || outcome === 'time')
        logger.warn({ event: 'unread_body_cut', bound: outcome, status: reply.statusCode, discardedBytes }, 'Http');
    });
    return payload;
  });
}

/** Reads `incoming` to its end and drops what arrives; destroys the connection at either bound. */
function discardRest(
  incoming: IncomingMessage,
  socket: Socket,
  bounds: DiscardBounds,
  ended: (outcome: UnreadBodyOutcome, discardedBytes: number) => void,
): void {
  let discardedBytes = 0;
  const end = (outcome: UnreadBodyOutcome) => {
    clearTimeout(deadline);
    incoming.off('data', discard).off('end', read);
    socket.off('close', closed);
    ended(outcome, discardedBytes);
    if (outcome === 'bytes' || outcome === 'time') socket.destroy();
  };
  const discard = (chunk: Buffer) => {
    discardedBytes += chunk.length;
    if (discardedBytes > bounds.maxBytes) end('bytes');
  };
  const read = () => end('read');
  const closed = () => end('closed');
  const deadline = setTimeout(() => end('time'), bounds.maxMs);
  incoming.on('data', discard).once('end', read);
  socket.once('close', closed);
}
