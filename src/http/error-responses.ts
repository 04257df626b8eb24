import type { FastifyRequest } from 'fastify';

/** An error as its request's response: the status, and the body in the route's error shape. */
export interface ErrorResponse {
  statusCode: number;
  body: unknown;
}

/**
 * How an error answers. The app layer decides it (its status map and error shapes) and provides
 * it under this token; the helpers here that answer by themselves (the API-key check, an event
 * stream's `error` event) are given it.
 */
export abstract class ErrorResponses {
  abstract render(error: unknown, request: FastifyRequest): ErrorResponse;
}
