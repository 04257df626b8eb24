import { Injectable } from '@nestjs/common';
import type { Generation } from '../model/generation/generation.types.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AppConfig } from '../../config/app-config.js';
import { readProcessMemory } from '../../runtime/process-memory.js';
import { TRAFFIC_CLASSES, type TrafficClass } from '../../prompts/task-definitions.js';
import { REFUSAL_REASONS } from '../model/model.errors.js';
import { ModelService } from '../model/runtime/model.service.js';
import { Scheduler } from '../model/scheduling/scheduler.js';
import { UNREAD_BODY_OUTCOMES, type UnreadBodyOutcome } from '../../http/lingering-close.js';
import { registerMemoryLimitGauge } from './memory-limit.gauge.js';

export type TokenKind = 'prompt' | 'completion';
/** What a client had not finished sending when its connection was cut. */
export const CLIENT_TIMEOUT_PHASES = ['headers', 'body'] as const;
export type ClientTimeoutPhase = (typeof CLIENT_TIMEOUT_PHASES)[number];

/** Prometheus metrics for one process; request figures come from the HTTP hook, the rest is read at scrape time. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'duet_requests_total',
    help: 'Requests answered, by route and status',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'duet_request_duration_seconds',
    help: 'Request latency, by route and status',
    labelNames: ['route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'duet_tokens_total',
    help: 'Tokens processed, by task and kind',
    labelNames: ['task', 'kind'],
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'duet_queue_wait_seconds',
    help: "Time from a task request's admission until its own tokens began to be evaluated, by task and traffic class",
    labelNames: ['task', 'class'],
    buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly firstToken = new Histogram({
    name: 'duet_time_to_first_token_seconds',
    help: 'Time from a generation request until its first generated token, by task and traffic class',
    labelNames: ['task', 'class'],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly finishReasons = new Counter({
    name: 'duet_finish_reasons_total',
    help: 'Generations answered, by task and finish reason (stop, length)',
    labelNames: ['task', 'reason'],
    registers: [this.registry],
  });
  private readonly labels = new Counter({
    name: 'duet_labels_total',
    help: 'Classification answers, by task and label ("abstained" for an abstention)',
    labelNames: ['task', 'label'],
    registers: [this.registry],
  });
  private readonly clientTimeouts = new Counter({
    name: 'duet_client_timeouts_total',
    help: 'Connections closed with 408 because the client sent its request too slowly, by what it had not finished',
    labelNames: ['phase'],
    registers: [this.registry],
  });
  private readonly unreadBodies = new Counter({
    name: 'duet_unread_bodies_total',
    help: 'Requests answered before their body arrived, by how the rest of the body ended (read, bytes, time, closed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly taskWarmUp = new Gauge({
    name: 'duet_task_warmup_seconds',
    help: "Time each task's last warm-up took (at startup, or at the reload that added or changed it)",
    labelNames: ['task'],
    registers: [this.registry],
  });
  private readonly servedByRoute = new Map<string, number>();

  constructor(models: ModelService, scheduler: Scheduler, config: AppConfig) {
    collectDefaultMetrics({ register: this.registry, prefix: 'duet_' });
    registerMemoryLimitGauge(this.registry, config.readyMaxAnonSwapBytes);
    // Zero from the start, so rate() sees the first cut.
    for (const phase of CLIENT_TIMEOUT_PHASES) this.clientTimeouts.inc({ phase }, 0);
    for (const outcome of UNREAD_BODY_OUTCOMES) this.unreadBodies.inc({ outcome }, 0);
    const turns = new Histogram({
      name: 'duet_decode_turn_seconds',
      help: 'How long each turn at the decode lock was held (what work of a higher class can wait behind), by traffic class and mode (exclusive, shared)',
      labelNames: ['class', 'mode'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5],
      registers: [this.registry],
    });
    scheduler.decodeLock.onTurnHeld(({ trafficClass, exclusive, ms }) =>
      turns.observe({ class: trafficClass, mode: exclusive ? 'exclusive' : 'shared' }, ms / 1000),
    );
    new Gauge({
      name: 'duet_queue_length',
      help: 'Requests waiting for a sequence',
      registers: [this.registry],
      collect() {
        this.set(scheduler.load().queued);
      },
    });
    new Gauge({
      name: 'duet_busy_sequences',
      help: 'Sequences serving a request',
      registers: [this.registry],
      collect() {
        this.set(scheduler.load().busy);
      },
    });
    new Counter({
      name: 'duet_gathered_rounds_total',
      help: 'Rounds single classifications were gathered into to share a decode (SENTIMENT_BATCHING=throughput), by members',
      labelNames: ['members'],
      registers: [this.registry],
      collect() {
        // The gatherer keeps the totals; a scrape copies them.
        this.reset();
        for (const [members, rounds] of scheduler.roundsByMembers) this.inc({ members }, rounds);
      },
    });
    new Counter({
      name: 'duet_requests_refused_total',
      help: 'Requests refused before their work ran, by reason (queue_full, deadline_unreachable, deadline_before_start) and traffic class',
      labelNames: ['reason', 'class'],
      registers: [this.registry],
      collect() {
        // The scheduler keeps the totals; a scrape copies them, with zeros so rate() sees the first.
        this.reset();
        for (const reason of REFUSAL_REASONS)
          for (const trafficClass of TRAFFIC_CLASSES) this.inc({ reason, class: trafficClass }, 0);
        for (const { reason, trafficClass, count } of scheduler.refusals)
          this.inc({ reason, class: trafficClass }, count);
      },
    });
    new Counter({
      name: 'duet_prefix_cache_lookups_total',
      help: 'Sequences a request took for its cached prefix (system turn or classification start), by whether one already held it (hit) or it was evaluated (miss)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        // The pool keeps the totals; a scrape copies them (both results from the start, so a ratio has data).
        this.reset();
        for (const [result, count] of Object.entries(scheduler.prefixLookups)) this.inc({ result }, count);
      },
    });
    new Gauge({
      name: 'duet_model_load_seconds',
      help: 'Time the model took to load',
      registers: [this.registry],
      collect() {
        if (models.loadMs !== undefined) this.set(models.loadMs / 1000);
      },
    });
    new Gauge({
      name: 'duet_memory_bytes',
      help: 'Process memory: rss, rss_anon, swap and V8 heap figures',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const m = readProcessMemory();
        for (const [kind, value] of Object.entries({
          rss: m.rssBytes,
          rss_anon: m.rssAnonBytes,
          swap: m.swapBytes,
          heap_used: m.heapUsedBytes,
          heap_total: m.heapTotalBytes,
          external: m.externalBytes,
          array_buffers: m.arrayBuffersBytes,
        }))
          this.set({ kind }, value);
      },
    });
  }

  /** `route` is the matched route pattern (bounded), never the raw URL. */
  observeRequest(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status });
    this.latency.observe({ route, status }, seconds);
    this.servedByRoute.set(route, (this.servedByRoute.get(route) ?? 0) + 1);
  }

  countClientTimeout(phase: ClientTimeoutPhase): void {
    this.clientTimeouts.inc({ phase });
  }

  countUnreadBody(outcome: UnreadBodyOutcome): void {
    this.unreadBodies.inc({ outcome });
  }

  /** A generation's figures under its task: queue wait, time to first token, finish reason. */
  observeGeneration(
    task: string,
    trafficClass: TrafficClass,
    generation: Pick<Generation, 'queueMs' | 'firstTokenMs' | 'finishReason'>,
  ): void {
    this.observeQueueWait(task, trafficClass, generation.queueMs);
    if (generation.firstTokenMs !== undefined)
      this.firstToken.observe({ task, class: trafficClass }, generation.firstTokenMs / 1000);
    this.finishReasons.inc({ task, reason: generation.finishReason });
  }

  observeQueueWait(task: string, trafficClass: TrafficClass, ms: number): void {
    this.queueWait.observe({ task, class: trafficClass }, ms / 1000);
  }

  /** Labels are the task's own (a closed, operator-defined set), so the series stay bounded. */
  countLabel(task: string, label: string | null): void {
    this.labels.inc({ task, label: label ?? 'abstained' });
  }

  countTokens(task: string, kind: TokenKind, count: number): void {
    this.tokens.inc({ task, kind }, count);
  }

  observeTaskWarmUp(task: string, seconds: number): void {
    this.taskWarmUp.set({ task }, seconds);
  }

  /** Requests answered so far per route, for memory snapshots. */
  requestsByRoute(): Record<string, number> {
    return Object.fromEntries(this.servedByRoute);
  }
}
