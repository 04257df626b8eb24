import { APP_FILTER } from '@nestjs/core';
import type { Provider, Type } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { LightMyRequestResponse } from 'fastify';
import { AllExceptionsFilter } from '../../src/app/all-exceptions.filter.js';
import { RouteErrorResponses } from '../../src/app/error-body.js';
import { ErrorResponses } from '../../src/http/error-responses.js';
import { createPino, nestLogger } from '../../src/http/logging.js';
import { createValidationPipe } from '../../src/http/validation.pipe.js';
import { AppConfig } from '../../src/config/app-config.js';
import { parseEnvironment } from '../../src/config/environment.js';

export interface ControllerApp {
  post(url: string, payload: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/**
 * One controller with fakes for its services, behind the real validation pipe and error filter, on
 * Fastify: the HTTP contract of a route without the model (unit tier).
 */
export async function startControllerApp(controller: Type, fakes: Provider[]): Promise<ControllerApp> {
  const module = await Test.createTestingModule({
    controllers: [controller],
    providers: [
      ...fakes,
      { provide: AppConfig, useValue: new AppConfig(parseEnvironment({})) },
      { provide: APP_FILTER, useClass: AllExceptionsFilter },
      { provide: ErrorResponses, useClass: RouteErrorResponses },
    ],
  }).compile();
  const app = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
    logger: nestLogger(createPino('error')),
  });
  app.useGlobalPipes(createValidationPipe());
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  return {
    post: (url, payload) =>
      fastify.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      }),
    close: () => app.close(),
  };
}

/** The error body's shape, and its message; returns the body for further checks. */
export function expectError(res: LightMyRequestResponse, status: number, message: RegExp | string) {
  expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(Object.keys(body).every((k) => ['statusCode', 'error', 'message', 'details'].includes(k))).toBe(true);
  expect(body.statusCode).toBe(status);
  expect(typeof body.error).toBe('string');
  if (typeof message === 'string') expect(body.message).toBe(message);
  else expect(body.message).toMatch(message);
  return body;
}
