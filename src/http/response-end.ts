import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** nginx's "client closed request": the client left before its response was sent. */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * Called once per request when its response closes: `sent` when the whole response went out
 * ('finish' came first), false when the connection closed before that (the client went away).
 */
export type ResponseEndListener = (request: FastifyRequest, reply: FastifyReply, sent: boolean) => void;

const listenersByServer = new WeakMap<FastifyInstance, ResponseEndListener[]>();

/**
 * Subscribes to the end of every response. One 'finish'/'close' watch per response, added by the
 * first subscription: subscribe before any hook that may answer early (the API-key check), so
 * those responses are seen too.
 */
export function onResponseEnd(fastify: FastifyInstance, listener: ResponseEndListener): void {
  let listeners = listenersByServer.get(fastify);
  if (!listeners) {
    const subscribed: ResponseEndListener[] = (listeners = []);
    listenersByServer.set(fastify, subscribed);
    fastify.addHook('onRequest', async (request, reply) => {
      let sent = false;
      reply.raw.once('finish', () => (sent = true));
      reply.raw.once('close', () => {
        for (const notify of subscribed) notify(request, reply, sent);
      });
    });
  }
  listeners.push(listener);
}
