import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { acceptedKey } from './api-keys.js';

/**
 * RATE_LIMIT_PER_MINUTE per client, across all routes: a client is the API key it was let in
 * with, else its IP (taken from X-Forwarded-For only behind TRUST_PROXY). A bearer token that no
 * key check accepted says nothing about who sent it, so it cannot open a fresh bucket.
 */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: { ip: string }): Promise<string> {
    return acceptedKey(request) ?? `ip:${await super.getTracker(request)}`;
  }

  /** One bucket per client, not per route: spreading requests over routes does not multiply the limit. */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }
}
