import type { Server } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../config/app-config.js';
import { onResponseEnd } from '../http/response-end.js';

/** Running requests are stopped this long before the drain deadline (a quarter of the drain if that is shorter). */
const STOP_RUNNING_BEFORE_DEADLINE_MS = 2000;

/** The work a drain waits for and stops: the model's (ModelService). */
export interface DrainableWork {
  /** Readiness goes down; new work and work still waiting is refused. */
  beginDrain(): void;
  /** Stops what still runs; returns how many requests that was. */
  stopRunning(): number;
  /** Requests being served and waiting. */
  poolLoad(): { busy: number; queued: number };
}

/**
 * SIGTERM/SIGINT: readiness goes down, new work and requests waiting in line get 503 at once, the
 * server stops accepting, running requests finish (up to SHUTDOWN_DRAIN_MS), the model is disposed,
 * and the process exits 0. Requests still running shortly before the deadline are stopped and
 * answered 503, so each gets a response before the process exits (1 if the deadline still passes).
 * Must be called before the app listens (it adds Fastify hooks).
 */
export function drainOnSignals(
  app: NestFastifyApplication,
  models: DrainableWork,
  config: AppConfig,
  logger: LoggerService,
  exitWith: (error: unknown) => never,
): void {
  const inFlight = new Set<string>();
  const fastify = app.getHttpAdapter().getInstance();
  // A request is in flight once its body has arrived (a client still sending one holds up nothing)
  // until its response is sent or its connection is gone (a client that aborted).
  fastify.addHook('preValidation', async (request, reply) => {
    if (!reply.raw.destroyed) inFlight.add(request.id);
  });
  onResponseEnd(fastify, (request) => inFlight.delete(request.id));

  let draining = false;
  const drain = async (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    const started = Date.now();
    logger.log(
      { event: 'shutdown_started', signal, drainMs: config.shutdownDrainMs, inFlight: inFlight.size },
      'Bootstrap',
    );
    setTimeout(() => {
      logger.error(
        { event: 'shutdown_deadline_passed', drainMs: config.shutdownDrainMs, inFlight: inFlight.size },
        'Bootstrap',
      );
      process.exit(1);
    }, config.shutdownDrainMs).unref();
    models.beginDrain();
    const stopMargin = Math.min(STOP_RUNNING_BEFORE_DEADLINE_MS, config.shutdownDrainMs / 4);
    setTimeout(() => {
      const stopped = models.stopRunning();
      if (stopped > 0) logger.warn({ event: 'shutdown_stopped_running', requests: stopped }, 'Bootstrap');
    }, config.shutdownDrainMs - stopMargin).unref();
    // close() waits for every open connection, and keep-alive or half-aborted ones may never end on
    // their own: once no request is in flight and no sequence is working, close them all.
    const server = app.getHttpServer() as Server;
    const closeWhenIdle = setInterval(() => {
      const { busy, queued } = models.poolLoad();
      const working = busy > 0 || queued > 0;
      if (inFlight.size === 0 && !working) server.closeAllConnections();
      else server.closeIdleConnections();
    }, 20);
    await app.close();
    clearInterval(closeWhenIdle);
    logger.log({ event: 'shutdown_complete', ms: Date.now() - started }, 'Bootstrap');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void drain(s).catch(exitWith));
}
