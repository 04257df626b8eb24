import { UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import { errorBody } from './error-body.js';

const digest = (key: string) => createHash('sha256').update(key).digest();

/** Constant-time membership: compares fixed-length digests so timing says nothing about a key. */
function keyMatcher(keys: readonly string[]): (candidate: string) => boolean {
  const digests = keys.map(digest);
  return (candidate) => {
    const probe = digest(candidate);
    return digests.reduce((found, known) => timingSafeEqual(known, probe) || found, false);
  };
}

/**
 * Bearer-token checks, before the body is even read: API_KEYS guard /v1/*, OPS_API_KEYS guard
 * /health/* and /metrics. An empty list leaves that part open.
 */
export function requireApiKeys(fastify: FastifyInstance, config: AppConfig): void {
  const areas = [
    {
      matches: (path: string) => path.startsWith('/v1/'),
      accepts: keyMatcher(config.apiKeys),
      enabled: config.apiKeys.length > 0,
    },
    {
      matches: (path: string) => path.startsWith('/health/') || path === '/metrics',
      accepts: keyMatcher(config.opsApiKeys),
      enabled: config.opsApiKeys.length > 0,
    },
  ];
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.method === 'OPTIONS') return; // CORS preflights carry no credentials
    const path = request.url.split('?')[0];
    const area = areas.find((a) => a.enabled && a.matches(path));
    if (!area) return;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token && area.accepts(token)) return;
    const message = token ? 'Invalid API key' : 'Missing API key: send Authorization: Bearer <key>';
    return reply
      .status(401)
      .header('WWW-Authenticate', 'Bearer')
      .send(errorBody(new UnauthorizedException(message), config.maxBodyBytes));
  });
}
