import { Logger } from '@nestjs/common';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import type { DecodeLock } from './decode-lock.js';
import { DeadlineBeforeStartError, QueueFullError, RequestAbortedError, ShuttingDownError } from '../model.errors.js';
import type { TrafficClass } from '../../../prompts/task-definitions.js';
import { onAbort } from './on-abort.js';
import { settleAll } from './settle-all.js';

/** Clients the fair share remembers serving; one it does not counts as served longest ago. */
const REMEMBERED_CLIENTS = 1024;

/** The reason a running request's signal carries when the pool stops it (see stopRunning). */
const STOPPED_FOR_SHUTDOWN = Symbol('stopped for shutdown');

/** The system-prompt tokens a sequence holds evaluated between requests. */
interface CachedPrefix {
  key: string;
  length: number;
  trafficClass: TrafficClass;
}

/** What the pool does with a sequence: node-llama-cpp's S, or a fake in unit tests. */
export interface PooledSequence {
  /** Tokens the sequence holds evaluated. */
  readonly nextTokenIndex: number;
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: Token[]): Promise<void>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
}

/** How a request waits for its sequences. */
export interface PoolRequest {
  /** Fires when the request is given up: it leaves the line, and its work's signal fires. */
  signal?: AbortSignal;
  /** Default batch. */
  trafficClass?: TrafficClass;
  /**
   * A later part of a request already admitted (the next item of a batch): it waits in line like
   * any request but is never refused for a full line, since its request was not.
   */
  admitted?: boolean;
  /** Who sent it (an opaque key): within a class, clients take turns in the line. Default: one anonymous client. */
  client?: string;
}

interface Waiter<S> {
  trafficClass: TrafficClass;
  client: string;
  take(sequence: S): void;
  refuse(error: Error): void;
}

/**
 * A fixed set of sequences of the one context, handed out one request at a time, with a bounded
 * line in front so latency cannot grow without bound. The line is served by class, then in arrival
 * order: interactive requests (a chat, a classification a live screen waits on) before batch ones.
 * While `reservedForInteractive` is set, that many sequences are kept from batch work, idle or
 * serving interactive work, so an interactive request finds one idle (holding its prefix, when it
 * was the last to use it) however much batch work waits, and batch work uses the rest meanwhile.
 *
 * Fair share: within a class the line is served by client, the one served longest ago first (its
 * requests among themselves in arrival order), so clients take turns a sequence at a time: a batch
 * takes the line per item (or round), and one client's backfill holds another's work back by at
 * most one item per turn.
 *
 * Prefix reuse: a prompt's system turn is the same for every request of a task, so a sequence
 * keeps it evaluated between requests and everything after it is erased. Every prompt's prefix
 * is evaluated alone (decode lock held exclusively) whether or not it is cached, so a cached
 * prefix holds exactly the values a fresh one would.
 *
 * Deadlines: a request whose signal fires for its deadline (reason `timeout`) before its own tokens
 * start to be evaluated (in line, or while its sequence's prefix is evaluated) is dropped with
 * DeadlineBeforeStartError, a refusal the client may retry, not a timeout.
 *
 * Failures: a request gives back every sequence it held exactly once, only after nothing runs on
 * any of them any more, whatever failed; a sequence whose cleanup failed goes back too, with its
 * cached prefix forgotten, so its next holder clears it first.
 */
export class SequencePool<S extends PooledSequence = LlamaContextSequence> {
  private readonly logger = new Logger(SequencePool.name);
  private readonly idle: S[];
  private readonly waiters: Waiter<S>[] = [];
  private readonly prefixes = new Map<S, CachedPrefix>();
  /** One controller per request holding sequences: aborted with the request's signal, or by stopRunning. */
  private readonly running = new Set<AbortController>();
  private closed = false;
  private reserved = 0;
  /** Sequences held by interactive requests: they count toward the reserve while they run. */
  private heldForInteractive = 0;
  /** When each client was last handed a sequence (a count of hand-outs), least recent first. */
  private readonly lastServed = new Map<string, number>();
  private handedOut = 0;
  /** Sequences handed out for a non-empty prefix: holding it already (hit), or cleared and evaluating it (miss). */
  readonly prefixLookups = { hit: 0, miss: 0 };

  constructor(
    private readonly sequences: readonly S[],
    readonly maxQueue: number,
    private readonly decodeLock: DecodeLock,
    private readonly reusePrefixes: boolean,
    /** The Retry-After a refusal of this class carries, in whole seconds. */
    private readonly retryAfterSeconds: (trafficClass: TrafficClass) => number = () => 1,
  ) {
    this.idle = [...sequences];
  }

  /** Sequences kept from batch work; at most all but one, so batch work always has one. */
  set reservedForInteractive(count: number) {
    this.reserved = Math.max(0, Math.min(count, this.sequences.length - 1));
  }

  get reservedForInteractive(): number {
    return this.reserved;
  }

  /** Idle sequences the reserve still needs kept from batch work. */
  private get reserveLeft(): number {
    return Math.max(0, this.reserved - this.heldForInteractive);
  }

  /** Idle sequences a request of this class may take now. */
  private available(trafficClass: TrafficClass): number {
    return trafficClass === 'interactive' ? this.idle.length : Math.max(0, this.idle.length - this.reserveLeft);
  }

  /** No idle sequence and the line is full: the next request would be refused. */
  get saturated(): boolean {
    return this.idle.length === 0 && this.waiters.length >= this.maxQueue;
  }

  get size(): number {
    return this.sequences.length;
  }

  get busy(): number {
    return this.sequences.length - this.idle.length;
  }

  /** Sequences serving work that goes ahead of or alongside work of this class. */
  runningFor(trafficClass: TrafficClass): number {
    return trafficClass === 'interactive' ? this.heldForInteractive : this.busy;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** A sequence's place in the pool: its creation order, which is llama.cpp's sequence id order. */
  orderOf(sequence: S): number {
    return this.sequences.indexOf(sequence);
  }

  /**
   * Throws what `useSeveral` would throw at once for a new request (shutting down, queue full);
   * callers check before costly preparation. `waitingElsewhere`: requests admitted and waiting
   * before they join the line, which count toward it.
   */
  admit(trafficClass: TrafficClass = 'batch', waitingElsewhere = 0): void {
    if (this.closed) throw new ShuttingDownError(false);
    if (this.available(trafficClass) === 0 && this.waiters.length + waitingElsewhere >= this.maxQueue)
      throw new QueueFullError(this.maxQueue, trafficClass, this.retryAfterSeconds(trafficClass));
  }

  /** Shutdown, first step: requests waiting in line are refused now and no new one is taken; running ones go on. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.refuse(new ShuttingDownError(false));
  }

  /** Shutdown, last step: every running request is stopped at its next check of its signal. Returns how many ran. */
  stopRunning(): number {
    for (const run of this.running) run.abort(STOPPED_FOR_SHUTDOWN);
    return this.running.size;
  }

  /**
   * Runs `work` on up to `wanted` sequences, each holding exactly `prefix` evaluated and nothing
   * else: the request waits in line for one, as any request does, then also takes up to
   * `wanted - 1` sequences that are idle at that moment. `work` evaluates the rest of its prompts
   * and stops when the signal it is given fires. Afterwards everything past the prefix is erased
   * (all of it without prefix reuse), so nothing of one request stays in the KV cache for the next.
   */
  async useSeveral<T>(
    prefix: readonly Token[],
    wanted: number,
    work: (sequences: S[], signal: AbortSignal) => Promise<T>,
    { signal, trafficClass = 'batch', admitted = false, client = '' }: PoolRequest = {},
  ): Promise<T> {
    if (signal?.aborted) throw this.notStarted(signal.reason, trafficClass);
    if (admitted && this.closed) throw new ShuttingDownError(false);
    if (!admitted) this.admit(trafficClass);
    const key = prefix.join(',');
    const idle = this.takeIdle(key, trafficClass);
    if (idle) this.served(client);
    const held = [idle ?? (await this.waitInLine(signal, trafficClass, client))];
    while (held.length < wanted && this.available(trafficClass) > 0) held.push(this.takeIdle(key, trafficClass)!);
    // Creation order is llama.cpp's sequence id order; a batch of several sequences makes one
    // micro-batch only from consecutive ids in increasing order.
    held.sort((a, b) => this.orderOf(a) - this.orderOf(b));
    if (trafficClass === 'interactive') this.heldForInteractive += held.length;
    const run = this.startRun(signal);
    const [outcome] = await Promise.allSettled([
      settleAll(held.map((sequence) => this.holdOnly(sequence, prefix, key, trafficClass))).then(() => {
        if (run.signal.aborted) throw this.notStarted(run.signal.reason, trafficClass);
        return work(held, run.signal);
      }),
    ]);
    run.end();
    const cleanupFailure = await this.releaseAll(held, trafficClass);
    if (outcome.status === 'rejected')
      throw run.signal.reason === STOPPED_FOR_SHUTDOWN ? new ShuttingDownError(true) : outcome.reason;
    // A failed cleanup fails a request that had otherwise succeeded.
    if (cleanupFailure) throw cleanupFailure;
    return outcome.value;
  }

  /** Why a request whose signal fired before its own tokens started is given up: dropped at its deadline, or its client left. */
  notStarted(reason: unknown, trafficClass: TrafficClass): Error {
    const aborted = new RequestAbortedError(reason);
    return aborted.deadlineMs === undefined
      ? aborted
      : new DeadlineBeforeStartError(aborted.deadlineMs, trafficClass, this.retryAfterSeconds(trafficClass));
  }

  /** A signal for one request's work that fires with the request's own or when stopRunning is called. */
  private startRun(signal?: AbortSignal): { signal: AbortSignal; end(): void } {
    const run = new AbortController();
    const follow = () => run.abort(signal!.reason);
    if (signal?.aborted) follow();
    const stopFollowing = onAbort(signal, follow);
    this.running.add(run);
    return {
      signal: run.signal,
      end: () => {
        this.running.delete(run);
        stopFollowing();
      },
    };
  }

  /** Gives every held sequence back exactly once; returns the first cleanup failure, if any. */
  private async releaseAll(held: readonly S[], trafficClass: TrafficClass): Promise<unknown> {
    let failure: unknown;
    for (const sequence of held) {
      if (trafficClass === 'interactive') this.heldForInteractive--;
      try {
        await this.keepPrefix(sequence);
      } catch (error) {
        this.prefixes.delete(sequence);
        this.logger.error({ event: 'sequence_cleanup_failed', error: (error as Error)?.message });
        failure ??= error;
      }
      const next = this.nextWaiter();
      if (next) next.take(sequence);
      else this.idle.push(sequence);
    }
    return failure;
  }

  /**
   * The first-created idle sequence already holding this prefix, else the one idle longest. First
   * created: requests running together then hold consecutive sequence ids from the lowest up, and
   * llama.cpp evaluates sequences together only while their ids rise by one.
   */
  private takeIdle(key: string, trafficClass: TrafficClass): S | undefined {
    if (this.available(trafficClass) === 0) return undefined;
    let cached = -1;
    this.idle.forEach((sequence, index) => {
      if (this.prefixes.get(sequence)?.key !== key) return;
      if (cached < 0 || this.orderOf(sequence) < this.orderOf(this.idle[cached])) cached = index;
    });
    // Batch work leaves the sequences holding an interactive prefix for the reserve, when it can.
    const spare =
      trafficClass === 'batch' && this.reserved > 0
        ? this.idle.findIndex((sequence) => this.prefixes.get(sequence)?.trafficClass !== 'interactive')
        : -1;
    return this.idle.splice(cached >= 0 ? cached : Math.max(spare, 0), 1)[0];
  }

  /** Who gets a released sequence: an interactive waiter, else a batch one unless the reserve needs it (see fairest). */
  private nextWaiter(): Waiter<S> | undefined {
    const next =
      this.fairest('interactive') ?? (this.idle.length >= this.reserveLeft ? this.fairest('batch') : undefined);
    if (!next) return undefined;
    this.waiters.splice(this.waiters.indexOf(next), 1);
    this.served(next.client);
    return next;
  }

  /** The waiter of the class whose client was served longest ago; the first in line among its requests. */
  private fairest(trafficClass: TrafficClass): Waiter<S> | undefined {
    const servedAt = (waiter: Waiter<S>) => this.lastServed.get(waiter.client) ?? 0;
    let fairest: Waiter<S> | undefined;
    for (const waiter of this.waiters) {
      if (waiter.trafficClass === trafficClass && (!fairest || servedAt(waiter) < servedAt(fairest))) fairest = waiter;
    }
    return fairest;
  }

  private served(client: string): void {
    this.lastServed.delete(client);
    this.lastServed.set(client, ++this.handedOut);
    if (this.lastServed.size > REMEMBERED_CLIENTS) this.lastServed.delete(this.lastServed.keys().next().value!);
  }

  private async holdOnly(
    sequence: S,
    prefix: readonly Token[],
    key: string,
    trafficClass: TrafficClass,
  ): Promise<void> {
    const cached = this.prefixes.get(sequence);
    const hit = cached?.key === key && sequence.nextTokenIndex === cached.length;
    if (prefix.length > 0) this.prefixLookups[hit ? 'hit' : 'miss']++;
    if (hit) return;
    this.prefixes.delete(sequence);
    await sequence.clearHistory();
    if (prefix.length === 0) return;
    const release = await this.decodeLock.exclusive(trafficClass);
    try {
      await sequence.evaluateWithoutGeneratingNewTokens([...prefix]);
    } finally {
      release();
    }
    if (this.reusePrefixes) this.prefixes.set(sequence, { key, length: prefix.length, trafficClass });
  }

  private async keepPrefix(sequence: S): Promise<void> {
    const cached = this.prefixes.get(sequence);
    try {
      if (!cached) await sequence.clearHistory();
      else if (sequence.nextTokenIndex > cached.length) {
        await sequence.eraseContextTokenRanges([{ start: cached.length, end: sequence.nextTokenIndex }]);
      }
    } catch {
      this.prefixes.delete(sequence);
      await sequence.clearHistory();
    }
  }

  /** Waits for a released sequence; a request whose signal fires, or a pool that closes, gives up its place at once. */
  private waitInLine(signal: AbortSignal | undefined, trafficClass: TrafficClass, client: string): Promise<S> {
    return new Promise((resolve, reject) => {
      const leave = (error: Error) => {
        stopListening();
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(error);
      };
      const waiter: Waiter<S> = {
        trafficClass,
        client,
        take: (sequence) => {
          stopListening();
          resolve(sequence);
        },
        refuse: leave,
      };
      const stopListening = onAbort(signal, () => leave(this.notStarted(signal!.reason, trafficClass)));
      this.waiters.push(waiter);
    });
  }
}
