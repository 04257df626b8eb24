import { UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import type { ErrorResponses } from './error-responses.js';

/** Who may call a route: `api` needs one of API_KEYS, `ops` one of OPS_API_KEYS, `public` nothing. */
export type AccessArea = 'api' | 'ops' | 'public';

/**
 * Route pattern prefixes and the area they belong to, so a new route under /v1 or /health is
 * protected without anyone remembering to. Every other route is public: the demo page, /docs and
 * the CORS preflight route.
 */
const AREA_PREFIXES: readonly (readonly [prefix: string, area: AccessArea])[] = [
  ['/v1', 'api'],
  ['/health', 'ops'],
  ['/metrics', 'ops'],
];

/** The area of a route, from the pattern it was registered with (`request.routeOptions.url`). */
export function accessArea(routePattern: string): AccessArea {
  const entry = AREA_PREFIXES.find(([prefix]) => routePattern === prefix || routePattern.startsWith(`${prefix}/`));
  return entry?.[1] ?? 'public';
}

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  return /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
}

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * Constant-time membership: compares fixed-length digests so timing says nothing about a key.
 * Answers the digest of the key that matched.
 */
function keyMatcher(keys: readonly string[]): (candidate: string) => Buffer | undefined {
  const digests = keys.map(digest);
  return (candidate) => {
    const probe = digest(candidate);
    const matched = digests.reduce((found, known) => timingSafeEqual(known, probe) || found, false);
    return matched ? probe : undefined;
  };
}

const acceptedKeys = new WeakMap<object, string>();

/**
 * The API key a request was let in with, as `key:<sha256>` (never the key itself); undefined when
 * its route needed none.
 */
export function acceptedKey(request: object): string | undefined {
  return acceptedKeys.get(request);
}

/**
 * Bearer-token checks, before the body is even read: API_KEYS guard the `api` area, OPS_API_KEYS
 * the `ops` area (see AREA_PREFIXES). An empty list leaves that area open. The area comes from the
 * route Fastify matched, never from the raw URL: percent-encoding, absolute-form targets or any
 * other spelling the router accepts reach the same route and so need the same key. A request that
 * matches no route goes on to the 404 handler.
 */
export function requireApiKeys(fastify: FastifyInstance, config: AppConfig, errors: ErrorResponses): void {
  const matchers: Record<AccessArea, ((candidate: string) => Buffer | undefined) | undefined> = {
    api: config.apiKeys.length > 0 ? keyMatcher(config.apiKeys) : undefined,
    ops: config.opsApiKeys.length > 0 ? keyMatcher(config.opsApiKeys) : undefined,
    public: undefined,
  };
  fastify.addHook('onRequest', async (request, reply) => {
    const routePattern = request.routeOptions.url;
    if (routePattern === undefined) return;
    const accepts = matchers[accessArea(routePattern)];
    if (!accepts) return;
    const token = bearerToken(request.headers);
    const accepted = token === undefined ? undefined : accepts(token);
    if (accepted) {
      acceptedKeys.set(request, `key:${accepted.toString('hex')}`);
      return;
    }
    const message = token ? 'Invalid API key' : 'Missing API key: send Authorization: Bearer <key>';
    return reply
      .status(401)
      .header('WWW-Authenticate', 'Bearer')
      .send(errors.render(new UnauthorizedException(message), request).body);
  });
}
