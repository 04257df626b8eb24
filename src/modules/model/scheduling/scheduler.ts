import { Injectable } from '@nestjs/common';
import type { EvaluationPriority, LlamaContextSequence, Token } from 'node-llama-cpp';
import { AppConfig } from '../../../config/app-config.js';
import type { TrafficClass } from '../../../prompts/task-definitions.js';
import {
  DeadlineBeforeStartError,
  DeadlineUnreachableError,
  RefusedError,
  type RefusalReason,
} from '../model.errors.js';
import { Backlog, type Deadline, retryAfterSeconds, type Ticket, type Work } from './backlog.js';
import { ClientLanes } from './client-lanes.js';
import { DecodeLock, type TurnOrder } from './decode-lock.js';
import { GenerationSteps } from './generation-steps.js';
import { GenerationTurns } from './generation-turns.js';
import { RoundGatherer } from './round-gatherer.js';
import { sequencePriority } from './sequence-order.js';
import { SequencePool, type PoolRequest } from './sequence-pool.js';
import { WorkSignal } from './work-signal.js';

/** Waits for a turn at the decode lock and returns its release. */
export type DecodeTurn = () => Promise<() => void>;

/** A piece of a classification to schedule: the prefix its sequences hold, how many texts, how they may batch. */
export interface ClassificationRequest {
  prefix: readonly Token[];
  /** Texts left to answer: with shareBatches, at most one sequence each. */
  texts: number;
  /**
   * Throughput mode: the texts spread over the sequences idle when the piece starts and their
   * evaluations share decode batches. Otherwise one sequence, and every evaluation in an
   * exclusive turn of its own.
   */
  shareBatches: boolean;
  /** With shareBatches, a request of one text: it joins a gathered round of other requests (see RoundGatherer). */
  gather?: boolean;
  trafficClass: TrafficClass;
  /** A later piece of a request already admitted: never refused for a full line (see PoolRequest). */
  admitted?: boolean;
  /** The request's admission (see Scheduler.admit): its texts are measured and counted done as they are answered. */
  ticket?: Ticket;
}

/** What a classification's work runs with. */
export interface ClassificationLease {
  /** One, or with shareBatches as many as were idle (at most one per text), in sequence id order. */
  sequences: readonly LlamaContextSequence[];
  /** The request's signal, which also fires when the service stops running work at shutdown. */
  signal: AbortSignal;
  /** The turn each evaluation takes at the decode lock: exclusive, or shared with shareBatches. */
  turn: DecodeTurn;
  /** Places a sequence's evaluations among others' in a batch (see sequencePriority). */
  priorityOf(sequence: LlamaContextSequence): EvaluationPriority;
  /**
   * A single text in throughput mode: waits for its gathered round to start and resolves with the
   * filler tokens its first evaluation (of `tokens`) adds (see RoundGatherer).
   */
  gather?: (tokens: number) => Promise<number>;
}

/** What a generation's work runs with. */
export interface GenerationLease {
  sequence: LlamaContextSequence;
  signal: AbortSignal;
  priority: EvaluationPriority;
  /** Its decode steps' turns at the decode lock and at the step barrier. */
  turns: GenerationTurns;
}

/** Requests refused at admission or dropped before they started, of one reason and class. */
export interface Refusals {
  reason: RefusalReason;
  trafficClass: TrafficClass;
  count: number;
}

/** A run's result and how long it waited before its own tokens began to be evaluated. */
export interface Scheduled<T> {
  result: T;
  /** For a sequence (and a cold prefix), then for a gathered round to start. */
  waitedMs: number;
}

/**
 * Decides when and where each piece of work runs on the one context: the sequence pool (a bounded
 * line, prefix reuse), the decode lock (which decodes may share a batch), the generation-step
 * barrier (concurrent generations step together) and the round gatherer (single classifications
 * in throughput mode share their first decode). The inference code asks it to run a
 * classification or a generation; nothing else touches those four.
 */
@Injectable()
export class Scheduler {
  /** Public for diagnostics: the tests watch its grants. */
  readonly decodeLock = new DecodeLock();
  private readonly generationSteps = new GenerationSteps();
  private readonly roundGatherer: RoundGatherer;
  private readonly backlog = new Backlog();
  private readonly lanes = new ClientLanes();
  private readonly refused = new Map<string, Refusals>();
  private sequencePool?: SequencePool;

  constructor(private readonly config: AppConfig) {
    this.roundGatherer = new RoundGatherer(config.batchingWindowMs, config.sequences);
  }

  /** Takes the context's sequences (once loaded): work may run from now on. */
  open(sequences: readonly LlamaContextSequence[]): void {
    this.sequencePool = new SequencePool(
      sequences,
      this.config.maxQueue,
      this.decodeLock,
      this.config.prefixCache,
      (trafficClass) => this.retryAfter(trafficClass),
    );
    this.serveClasses(this.config.tasks.map((task) => task.class));
  }

  /**
   * The classes of the tasks served (at startup, and after a reload): while any is interactive,
   * INTERACTIVE_SEQUENCES sequences are kept from batch work, so interactive work does not wait
   * for a sequence behind it.
   */
  serveClasses(classes: readonly TrafficClass[]): void {
    if (!this.sequencePool) return;
    this.sequencePool.reservedForInteractive = classes.includes('interactive') ? this.config.interactiveSequences : 0;
  }

  /** Shutdown, first step: work waiting in line is refused and no new work is taken; running work goes on. */
  close(): void {
    this.sequencePool?.close();
  }

  /** Shutdown, last step: running work is stopped (each fails with ShuttingDownError); returns how many requests ran. */
  stopRunning(): number {
    return this.sequencePool?.stopRunning() ?? 0;
  }

  /** Sequences serving a request and requests waiting for one; zeros before the sequences exist. */
  load(): { busy: number; queued: number } {
    return { busy: this.sequencePool?.busy ?? 0, queued: (this.sequencePool?.queued ?? 0) + this.lanes.waiting };
  }

  /** Refusals and drops before start so far, by reason and class (those that happened). */
  get refusals(): Iterable<Refusals> {
    return this.refused.values();
  }

  /** Gathered rounds started so far, by how many members they had. */
  get roundsByMembers(): ReadonlyMap<number, number> {
    return this.roundGatherer.roundsByMembers;
  }

  /** Prefix-cache lookups so far (see SequencePool.prefixLookups); zeros before the sequences exist. */
  get prefixLookups(): Readonly<{ hit: number; miss: number }> {
    return this.sequencePool?.prefixLookups ?? { hit: 0, miss: 0 };
  }

  /**
   * Admits a request's work, or throws what refuses it now, before costly preparation: shutting
   * down, a full line, or, given its deadline (on performance.now()'s clock), an expected finish
   * past it (see Backlog). The ticket counts the work as outstanding until it is ended; work of
   * several units waits behind its client's earlier such work (see ClientLanes).
   */
  admit(work: Work, deadline?: Deadline): Ticket {
    try {
      this.pool.admit(work.trafficClass, this.lanes.waiting);
      const budgetMs = deadline === undefined ? Infinity : deadline.at - this.backlog.now();
      const late = this.backlog.lateness(work, budgetMs);
      if (late) {
        const [expectedMs, deadlineInMs] = [late.expectedMs, budgetMs].map((ms) => Math.max(0, Math.round(ms)));
        throw new DeadlineUnreachableError(expectedMs, deadlineInMs, work.trafficClass, late.retryAfterSeconds);
      }
    } catch (error) {
      throw this.counted(error);
    }
    const ticket = this.backlog.add(work, deadline);
    if (work.units > 1) this.lanes.join(ticket);
    return ticket;
  }

  /** Runs a classification's work on its sequences, each holding exactly `prefix` evaluated. */
  async runClassification<T>(
    request: ClassificationRequest,
    work: (lease: ClassificationLease) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<Scheduled<T>> {
    const pool = this.pool;
    const { shareBatches, trafficClass, admitted, ticket } = request;
    const turn: DecodeTurn = shareBatches
      ? () => this.decodeLock.shared(trafficClass, this.orderOf(ticket))
      : () => this.decodeLock.exclusive(trafficClass, this.orderOf(ticket));
    const priorityOf = (sequence: LlamaContextSequence) => sequencePriority(pool.orderOf(sequence));
    // A single text in throughput mode waits for company; that wait is queueing too.
    const arrival = shareBatches && request.gather ? this.roundGatherer.arrive() : undefined;
    let gatheredMs = 0;
    try {
      const { result, waitedMs } = await this.onSequences(
        request.prefix,
        shareBatches ? request.texts : 1,
        async (sequences, runSignal) => {
          if (!arrival) return work({ sequences, signal: runSignal, turn, priorityOf });
          const gather = async (tokens: number) => {
            const joined = performance.now();
            const padding = await arrival.join(pool.orderOf(sequences[0]), tokens, runSignal);
            gatheredMs = performance.now() - joined;
            return padding;
          };
          try {
            return await work({ sequences, signal: runSignal, turn, priorityOf, gather });
          } finally {
            arrival.leave(); // before the sequence's cleanup: the next round may start now
          }
        },
        { signal, trafficClass, admitted, ticket },
      );
      return { result, waitedMs: waitedMs + gatheredMs };
    } finally {
      arrival?.leave();
    }
  }

  /** Runs a generation's work on one sequence holding exactly `prefix` evaluated; of the ticket's class (else interactive), measured. */
  runGeneration<T>(
    prefix: readonly Token[],
    work: (lease: GenerationLease) => Promise<T>,
    signal?: AbortSignal,
    ticket?: Ticket,
  ): Promise<Scheduled<T>> {
    const pool = this.pool;
    const trafficClass = ticket?.trafficClass ?? 'interactive';
    return this.onSequences(
      prefix,
      1,
      ([sequence], runSignal) =>
        work({
          sequence,
          signal: runSignal,
          priority: sequencePriority(pool.orderOf(sequence)),
          turns: new GenerationTurns(
            this.decodeLock,
            this.generationSteps,
            sequence,
            trafficClass,
            this.orderOf(ticket),
          ),
        }),
      { signal, trafficClass, ticket },
    );
  }

  /**
   * Runs work on pooled sequences (one place in the queue), timing the wait for them; with a
   * ticket, the work counts as one unit per sequence (a text each, or the generation).
   */
  private async onSequences<T>(
    prefix: readonly Token[],
    wanted: number,
    work: (sequences: LlamaContextSequence[], signal: AbortSignal) => Promise<T>,
    { ticket, ...request }: PoolRequest & { ticket?: Ticket },
  ): Promise<Scheduled<T>> {
    const asked = performance.now();
    let waitedMs = 0;
    const pool = this.pool;
    const workSignal = new WorkSignal(request.signal);
    try {
      const trafficClass = request.trafficClass ?? 'batch';
      const waitedInLane = await this.lanes.turn(ticket, request.signal, (why) => pool.notStarted(why, trafficClass));
      const result = await pool.useSeveral(
        prefix,
        wanted,
        async (sequences, runSignal) => {
          waitedMs = performance.now() - asked;
          if (ticket) {
            const expectedMs = this.expectedRunMs(ticket);
            this.checkTimeLeft(ticket, expectedMs);
            workSignal.started(expectedMs);
          }
          const startedAt = this.backlog.now();
          try {
            const done = await work(sequences, runSignal);
            ticket?.ran(sequences.length, startedAt, true);
            return done;
          } catch (error) {
            ticket?.ran(sequences.length, startedAt, false);
            throw error;
          }
        },
        // Admitted, then kept waiting in its lane: no longer refused for a full line.
        { ...request, signal: workSignal.signal, admitted: request.admitted || waitedInLane, client: ticket?.client },
      );
      return { result, waitedMs };
    } catch (error) {
      throw this.counted(error); // a drop before start, or a full line at the pool's check
    } finally {
      workSignal.dispose();
    }
  }

  /**
   * How long a run starting now is expected to take: its own unit (by its texts' length, see
   * Backlog.size) after a unit of each other run it shares the model with (a unit started beside
   * k − 1 others of its class or above, admitted before it, ends after theirs; with four sequences
   * busy, four units, not one); 0 before its kind is measured. Once started, that long is also its
   * grace past its deadline (see WorkSignal).
   */
  private expectedRunMs({ kind, trafficClass, unitSize }: Ticket): number {
    const others = Math.max(1, this.pool.runningFor(trafficClass)) - 1;
    return (this.backlog.estimateMs(kind) ?? 0) * (others + unitSize);
  }

  /**
   * Work whose sequences came with less of its deadline left than its run is expected to take is
   * dropped before it starts, like work whose deadline passed in line: run, it would only end in a
   * 504. Not on an estimate gone stale (see Backlog.currentEstimateMs).
   */
  private checkTimeLeft({ deadline, kind, trafficClass }: Ticket, expectedMs: number): void {
    if (!deadline || this.backlog.currentEstimateMs(kind) === undefined) return;
    const leftMs = deadline.at - this.backlog.now();
    if (leftMs < expectedMs)
      throw new DeadlineBeforeStartError(
        deadline.ms,
        trafficClass,
        this.retryAfter(trafficClass),
        Math.max(0, Math.round(leftMs)),
      );
  }

  /**
   * A request's turns' order at the decode lock: ranked by its client's work of its class admitted
   * and not yet done, then by when it was admitted; without a ticket, by arrival.
   */
  private orderOf(ticket?: Ticket): TurnOrder | undefined {
    if (!ticket) return undefined;
    return { rank: () => this.backlog.unitsOf(ticket.trafficClass, ticket.client), since: ticket.since };
  }

  /** A dropped or turned-away request's Retry-After: once the work ahead of its class is done. */
  private retryAfter(trafficClass: TrafficClass): number {
    return retryAfterSeconds(this.backlog.aheadMs(trafficClass));
  }

  /** Counts `error` if it is a refusal (see refusals); returns it. */
  private counted(error: unknown): unknown {
    if (!(error instanceof RefusedError)) return error;
    const key = `${error.reason}/${error.trafficClass}`;
    const counts = this.refused.get(key) ?? { reason: error.reason, trafficClass: error.trafficClass, count: 0 };
    counts.count++;
    this.refused.set(key, counts);
    return error;
  }

  /** The sequence pool itself, for readiness details and for tests that hold sequences. */
  get pool(): SequencePool {
    if (!this.sequencePool) throw new Error('the model is not loaded');
    return this.sequencePool;
  }
}
