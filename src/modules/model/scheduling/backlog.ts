import type { TrafficClass } from '../../../prompts/task-definitions.js';

/** A unit of work: one text of a classification (all its questions), or one generation. */
export type WorkKind = 'classification' | 'generation';

/** A request's work, as the backlog counts it from admission until the request ends. */
export interface Work {
  trafficClass: TrafficClass;
  kind: WorkKind;
  units: number;
  /** Characters of the texts its units read, all units together (see Backlog.size); unknown for a generation. */
  chars?: number;
  /** Who sent it, an opaque key (see SequencePool's fair share); default one anonymous client. */
  client?: string;
}

/** When a request's time is up: `at` on performance.now()'s clock, `ms` after it arrived. */
export interface Deadline {
  at: number;
  ms: number;
}

/** Units of one class, kind and client admitted and not yet done, by size (see Backlog.size). */
interface Outstanding {
  trafficClass: TrafficClass;
  kind: WorkKind;
  client: string;
  units: number;
}

/** How much the newest measurement weighs in a unit's moving average. */
const SMOOTHING = 0.2;

/** About how far back a client's finished work counts in its pace (see arrivingMs): a deadline's worth. */
export const PACE_WINDOW_MS = 30_000;

/** One class and client's finished work: its ms, each faded by e^(−age / PACE_WINDOW_MS), as of `at`. */
interface Pace {
  trafficClass: TrafficClass;
  client: string;
  ms: number;
  at: number;
}

/** A moving average with `sample` added; the sample itself if there is none yet. */
const smoothed = (current: number | undefined, sample: number) =>
  current === undefined ? sample : current + SMOOTHING * (sample - current);

/** A pace's ms as of `now`. */
const fadedMs = (pace: Pace, now: number) => pace.ms * Math.exp(-(now - pace.at) / PACE_WINDOW_MS);

/**
 * After this long without a measurement of its kind, an estimate no longer refuses a request with
 * nothing ahead of it (see lateness).
 */
export const ESTIMATE_STALE_MS = 5000;

/**
 * The share of a request's time before its deadline kept free at admission: a margin for the
 * estimates (unit times, other clients' paces, a text's length unseen) falling short while it
 * waits, as this VM's speed drifts by up to ±25% within minutes (docs/benchmark-runs.md).
 */
export const HEADROOM = 0.2;

/**
 * The part of a text's time that does not grow with it (the prompt around the text, the answer's
 * decode), in characters of text that take as long: on the 0.5B fixture a sentiment text alone
 * took about 140 ms plus 1.1 ms a character (docs/benchmark-runs.md).
 */
export const FIXED_CHARS = 120;

/** Why a request would not finish before its deadline. */
export interface Lateness {
  /** When it would finish, in ms from now: the work ahead of it, then its own. */
  expectedMs: number;
  /** When asking again may succeed: once that much of the work ahead is done. */
  retryAfterSeconds: number;
}

/** Whole seconds, at least 1, for a Retry-After from an estimate in milliseconds. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Admitted work not yet done, by class and kind, and how long a unit of each kind takes: an
 * exponentially weighted moving average of measured units, so the estimate follows the load
 * (prompt lengths, concurrent chats) within a few dozen units. The first measurements are the
 * warm-up's own requests, which run through the scheduler like any other; until a kind has been
 * measured its units count as taking no time, so nothing is refused on a guess.
 *
 * The work ahead of a request follows the pool's rules: work of a higher class all goes first;
 * within its class, clients take turns, so another client's work delays it by at most as much as
 * its own takes, and its own client's earlier work all goes first.
 *
 * A unit's time is measured from when it starts, or from when the unit of its kind before it
 * finished if that was later: units served side by side (a round of sequences, chats stepping
 * together) then add up to the time they took together, which is what the work in line will cost.
 */
export class Backlog {
  private readonly unitMs = new Map<WorkKind, number>();
  private readonly unitChars = new Map<WorkKind, number>();
  private readonly lastDone = new Map<WorkKind, number>();
  private readonly measuredAt = new Map<WorkKind, number>();
  private readonly paces = new Map<string, Pace>();
  private readonly outstanding = new Map<string, Outstanding>();

  constructor(readonly now: () => number = () => performance.now()) {}

  /**
   * How many units of its kind's recent mean `work` counts as, from its texts' length before they
   * are tokenized: a unit's time is taken as FIXED_CHARS plus its characters, against the same for
   * the characters of the units measured lately (a moving average beside the one of times).
   */
  size(work: Work): number {
    const meanChars = this.unitChars.get(work.kind);
    if (work.chars === undefined || meanChars === undefined || !work.units) return work.units;
    return (work.units * (FIXED_CHARS + work.chars / work.units)) / (FIXED_CHARS + meanChars);
  }

  /** The estimate of one unit of `kind` in ms; undefined until one has been measured. */
  estimateMs(kind: WorkKind): number | undefined {
    return this.unitMs.get(kind);
  }

  /**
   * The estimate of one unit of `kind` while it is current: undefined once nothing of its kind has
   * been measured for ESTIMATE_STALE_MS, so that an estimate taken in a slow moment cannot keep
   * work from running, which is what corrects it.
   */
  currentEstimateMs(kind: WorkKind): number | undefined {
    return this.now() - (this.measuredAt.get(kind) ?? -Infinity) > ESTIMATE_STALE_MS
      ? undefined
      : this.estimateMs(kind);
  }

  /**
   * Expected ms of the work ahead of a new request of `trafficClass` from `client` whose own work
   * takes `ownMs`: interactive work goes first, so an interactive request waits only for
   * interactive work and a batch request for all of it; within its class, every other client's
   * work counts up to `ownMs` (they take turns), its own client's in full.
   */
  aheadMs(trafficClass: TrafficClass, client = '', ownMs = Infinity): number {
    const others = new Map<string, number>();
    let ahead = 0;
    for (const work of this.outstanding.values()) {
      const ms = work.units * (this.estimateMs(work.kind) ?? 0);
      if (work.trafficClass !== trafficClass) ahead += trafficClass === 'batch' ? ms : 0;
      else if (work.client === client) ahead += ms;
      else others.set(work.client, (others.get(work.client) ?? 0) + ms);
    }
    for (const ms of others.values()) ahead += Math.min(ms, ownMs);
    return ahead;
  }

  /**
   * Expected ms of work not yet admitted that will go ahead of a request of `trafficClass` from
   * `client`, or take turns with it, within `horizonMs`: each other client's pace (its finished
   * work per ms over about the last PACE_WINDOW_MS) times the horizon; interactive work in full
   * ahead of batch work, another client of the request's own class at most `ownMs` (they take
   * turns). Paces faded to under a millisecond are forgotten.
   */
  arrivingMs(trafficClass: TrafficClass, client: string, ownMs: number, horizonMs: number): number {
    const now = this.now();
    let arriving = 0;
    for (const [key, pace] of this.paces) {
      const ms = fadedMs(pace, now);
      if (ms < 1) this.paces.delete(key);
      else if (pace.trafficClass === trafficClass ? pace.client !== client : trafficClass === 'batch') {
        const expected = (ms / PACE_WINDOW_MS) * horizonMs;
        arriving += pace.trafficClass === trafficClass ? Math.min(expected, ownMs) : expected;
      }
    }
    return arriving;
  }

  /** Adds `ms` of finished work of `trafficClass` from `client` to its pace. */
  addToPace(trafficClass: TrafficClass, client: string, ms: number): void {
    const key = JSON.stringify([trafficClass, client]);
    const now = this.now();
    const pace = this.paces.get(key) ?? { trafficClass, client, ms: 0, at: now };
    pace.ms = fadedMs(pace, now) + ms;
    pace.at = now;
    this.paces.set(key, pace);
  }

  /**
   * Undefined if `work` admitted now would finish within `budgetMs` (the time left before its
   * deadline) less HEADROOM, else how late it would be.
   *
   * It would finish after the work ahead, the work other clients will send meanwhile at their
   * recent pace (see arrivingMs) and its own: requests that run side by side end in the order they
   * were admitted (see DecodeLock), so work admitted after it does not delay it. It would fit once
   * the work ahead has shrunk by the difference; when its own work alone is over the budget,
   * retrying helps no sooner than the line ahead is empty. With nothing ahead and no unit of its
   * kind measured for ESTIMATE_STALE_MS, it is admitted: its later units are dropped before they
   * start if the estimate was right.
   */
  lateness(work: Work, budgetMs: number): Lateness | undefined {
    const unitMs = this.estimateMs(work.kind) ?? 0;
    const ownMs = unitMs * this.size(work);
    const ahead = this.aheadMs(work.trafficClass, work.client, ownMs);
    const arriving = this.arrivingMs(work.trafficClass, work.client ?? '', ownMs, ahead + ownMs);
    const expectedMs = ahead + arriving + ownMs;
    const allowedMs = budgetMs * (1 - HEADROOM);
    if (expectedMs <= allowedMs) return undefined;
    // Only running work corrects an estimate: one taken in a slow moment (the warm-up beside a
    // busy neighbour) would otherwise refuse a long batch on an idle machine for good.
    if (ahead === 0 && this.currentEstimateMs(work.kind) === undefined) return undefined;
    return { expectedMs, retryAfterSeconds: retryAfterSeconds(Math.min(expectedMs - allowedMs, ahead)) };
  }

  /** Units of one class and client admitted and not yet done. */
  unitsOf(trafficClass: TrafficClass, client = ''): number {
    let units = 0;
    for (const work of this.outstanding.values())
      if (work.trafficClass === trafficClass && work.client === client) units += work.units;
    return units;
  }

  /** Counts `work` as outstanding, by its size now, until the ticket ends. */
  add(work: Work, deadline?: Deadline): Ticket {
    const size = this.size(work);
    this.count(work, size);
    return new Ticket(this, work, work.units ? size / work.units : 1, this.now(), deadline);
  }

  /**
   * Records `units` of `kind` that ran from `startedAt` until now, of `charsPerUnit` if known;
   * `completed` false when stopped early.
   */
  measure(kind: WorkKind, units: number, startedAt: number, completed: boolean, charsPerUnit?: number): void {
    const now = this.now();
    const sample = (now - Math.max(startedAt, this.lastDone.get(kind) ?? startedAt)) / units;
    const current = this.unitMs.get(kind);
    this.measuredAt.set(kind, now);
    if (completed) this.lastDone.set(kind, now);
    // A stopped unit says only that a unit takes at least this long.
    else if (current !== undefined && sample <= current) return;
    this.unitMs.set(kind, smoothed(current, sample));
    if (charsPerUnit !== undefined) this.unitChars.set(kind, smoothed(this.unitChars.get(kind), charsPerUnit));
  }

  /** Adds (or with a negative count removes) outstanding units of `work`'s class, kind and client, by size. */
  count({ trafficClass, kind, client = '' }: Work, units: number): void {
    const key = JSON.stringify([trafficClass, kind, client]);
    const outstanding = this.outstanding.get(key) ?? { trafficClass, kind, client, units: 0 };
    outstanding.units += units;
    // Sizes are fractional: what is left once all is released is float rounding, not work.
    if (outstanding.units > 1e-6) this.outstanding.set(key, outstanding);
    else this.outstanding.delete(key); // a client's entry lasts while it has work
  }
}

/** One admitted request's place in the backlog: its units leave it as they are done, the rest when it ends. */
export class Ticket {
  private left: number;
  private ended = false;
  private readonly endListeners: (() => void)[] = [];

  constructor(
    private readonly backlog: Backlog,
    private readonly work: Work,
    /** What a unit of it counts as in the backlog (see Backlog.size), fixed at admission. */
    readonly unitSize: number,
    /** When it was admitted, on the backlog's clock. */
    readonly since: number,
    readonly deadline?: Deadline,
  ) {
    this.left = work.units;
  }

  get kind(): WorkKind {
    return this.work.kind;
  }

  get trafficClass(): TrafficClass {
    return this.work.trafficClass;
  }

  get client(): string | undefined {
    return this.work.client;
  }

  /** Calls `listener` once when the request ends. */
  onEnd(listener: () => void): void {
    this.endListeners.push(listener);
  }

  /** `units` that ran from `startedAt` until now: measured, and no longer outstanding if `completed`. */
  ran(units: number, startedAt: number, completed: boolean): void {
    const { trafficClass, kind, client = '', chars } = this.work;
    this.backlog.measure(kind, units, startedAt, completed, chars === undefined ? undefined : chars / this.work.units);
    if (!completed) return;
    this.release(units);
    this.backlog.addToPace(trafficClass, client, units * this.unitSize * this.backlog.estimateMs(kind)!);
  }

  /** The request ended (answered, failed or refused): whatever it had left is no longer outstanding. */
  end(): void {
    this.release(this.left);
    if (this.ended) return;
    this.ended = true;
    for (const listener of this.endListeners) listener();
  }

  private release(units: number): void {
    const released = Math.min(units, this.left);
    this.left -= released;
    this.backlog.count(this.work, -released * this.unitSize);
  }
}
