import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { createHash } from 'node:crypto';

/** RATE_LIMIT_PER_MINUTE counted per API key when the client sends one, else per client IP. */
@Injectable()
export class ApiThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: {
    headers?: Record<string, string | undefined>;
    ip?: string;
  }): Promise<string> {
    const token = /^Bearer (.+)$/.exec(request.headers?.authorization ?? '')?.[1];
    return token ? `key:${createHash('sha256').update(token).digest('hex')}` : `ip:${request.ip}`;
  }
}
