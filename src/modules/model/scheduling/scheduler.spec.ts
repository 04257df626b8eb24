import { jest } from '@jest/globals';
import type { LlamaContextSequence } from 'node-llama-cpp';
import type { AppConfig } from '../../../config/app-config.js';
import { DeadlineBeforeStartError, DeadlineUnreachableError, QueueFullError } from '../model.errors.js';
import { FIXED_CHARS, type Work } from './backlog.js';
import { Scheduler } from './scheduler.js';

/** A sequence that holds nothing: the scheduler's bookkeeping is under test, not evaluation. */
const emptySequence = () =>
  ({
    nextTokenIndex: 0,
    clearHistory: async () => {},
    evaluateWithoutGeneratingNewTokens: async () => {},
    eraseContextTokenRanges: async () => {},
  }) as unknown as LlamaContextSequence;

/** A deadline `ms` from now. */
const deadlineIn = (ms: number) => ({ at: performance.now() + ms, ms });

const tick = () => new Promise((resolve) => setImmediate(resolve));

function schedulerWith({ sequences = 1, maxQueue = 4 } = {}) {
  const config = { batchingWindowMs: 0, sequences, maxQueue, prefixCache: true, tasks: [], interactiveSequences: 0 };
  const scheduler = new Scheduler(config as unknown as AppConfig);
  scheduler.open(Array.from({ length: sequences }, emptySequence));
  return scheduler;
}

const texts = (units: number, trafficClass: Work['trafficClass'] = 'batch'): Work => ({
  trafficClass,
  kind: 'classification',
  units,
});

/** Admits `work` and runs its first text until `finish` is called; `done` settles with the run. */
function occupy(scheduler: Scheduler, work: Work) {
  const ticket = scheduler.admit(work);
  let finish = () => {};
  const done = scheduler
    .runClassification(
      { prefix: [], texts: 1, shareBatches: false, trafficClass: work.trafficClass, ticket },
      () => new Promise<void>((resolve) => (finish = resolve)),
    )
    .finally(() => ticket.end());
  return { ticket, done, finish: () => finish() };
}

/** Teaches the scheduler that a text (of `chars` characters, if given) takes `ms` (performance.now() is faked). */
async function measureText(scheduler: Scheduler, ms: number, chars?: number) {
  const run = occupy(scheduler, { ...texts(1), chars });
  await tick();
  jest.advanceTimersByTime(ms);
  run.finish();
  await run.done;
}

describe('Scheduler admission by expected finish, and its count of refusals', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('admits anything before a measurement, and refuses what would finish after its deadline', async () => {
    const scheduler = schedulerWith();
    scheduler.admit(texts(1000), deadlineIn(1)).end();
    await measureText(scheduler, 500);
    const running = occupy(scheduler, texts(8)); // 4 s of texts ahead
    await tick();
    // 4 s ahead and 1 s of its own against 3 s less a fifth of headroom: 2.6 s late.
    expect(() => scheduler.admit(texts(2), deadlineIn(3000))).toThrow(
      expect.objectContaining({
        constructor: DeadlineUnreachableError,
        reason: 'deadline_unreachable',
        trafficClass: 'batch',
        expectedMs: 5000,
        deadlineInMs: 3000,
        retryAfterSeconds: 3,
      }),
    );
    // Interactive work goes first: the batch work ahead does not make it late.
    scheduler.admit(texts(2, 'interactive'), deadlineIn(3000)).end();
    scheduler.admit(texts(2), deadlineIn(6250)).end();
    expect([...scheduler.refusals]).toEqual([{ reason: 'deadline_unreachable', trafficClass: 'batch', count: 1 }]);
    running.finish();
    await running.done;
  });

  it('gives a full line a Retry-After from the work ahead', async () => {
    const scheduler = schedulerWith({ maxQueue: 0 });
    await measureText(scheduler, 1500);
    const running = occupy(scheduler, texts(2)); // 3 s ahead
    await tick();
    expect(() => scheduler.admit(texts(1))).toThrow(
      expect.objectContaining({ constructor: QueueFullError, reason: 'queue_full', retryAfterSeconds: 3 }),
    );
    expect([...scheduler.refusals]).toEqual([{ reason: 'queue_full', trafficClass: 'batch', count: 1 }]);
    running.finish();
    await running.done;
  });

  it("drops a batch's later text whose deadline passes in line, with a Retry-After from the work ahead", async () => {
    const scheduler = schedulerWith();
    await measureText(scheduler, 1000);
    const running = occupy(scheduler, texts(3)); // 3 s ahead
    await tick();
    const controller = new AbortController();
    const ticket = scheduler.admit(texts(2), deadlineIn(10_000));
    const later = scheduler.runClassification(
      { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', admitted: true, ticket },
      async () => 'answered',
      controller.signal,
    );
    await tick();
    controller.abort({ kind: 'timeout', afterMs: 10_000 });
    await expect(later).rejects.toBeInstanceOf(DeadlineBeforeStartError);
    await expect(later).rejects.toMatchObject({ reason: 'deadline_before_start', retryAfterSeconds: 5 });
    expect([...scheduler.refusals]).toEqual([{ reason: 'deadline_before_start', trafficClass: 'batch', count: 1 }]);
    ticket.end();
    running.finish();
    await running.done;
  });
  it('expects a text longer than those measured to run that much longer when it starts', async () => {
    const scheduler = schedulerWith();
    await measureText(scheduler, 1000, 100);
    const start = (chars: number) => {
      const ticket = scheduler.admit({ ...texts(1), chars }, deadlineIn(4000));
      jest.advanceTimersByTime(1500); // 2.5 s left when its sequence comes
      const run = scheduler.runClassification(
        { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', ticket },
        async () => 'answered',
      );
      return run.finally(() => ticket.end());
    };
    // A text as long as the one measured takes 1 s; one whose time, FIXED_CHARS and its own
    // characters, is three times that, 3 s.
    await expect(start(3 * (FIXED_CHARS + 100) - FIXED_CHARS)).rejects.toMatchObject({
      reason: 'deadline_before_start',
      leftMs: 2500,
    });
    await expect(start(100)).resolves.toMatchObject({ result: 'answered' });
  });

  it('drops work whose sequence comes with less of its deadline left than a run takes, before it starts', async () => {
    const scheduler = schedulerWith();
    await measureText(scheduler, 1000);
    const running = occupy(scheduler, texts(1));
    await tick();
    const ticket = scheduler.admit(texts(1), deadlineIn(5000)); // a text ahead and its own fit in 5 s
    let started = false;
    const later = scheduler.runClassification(
      { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', ticket },
      async () => (started = true),
    );
    await tick();
    jest.advanceTimersByTime(4500); // the text ahead runs long: 500 ms are left when the sequence frees
    running.finish();
    await running.done;
    await expect(later).rejects.toMatchObject({ reason: 'deadline_before_start', deadlineMs: 5000, leftMs: 500 });
    expect(started).toBe(false);
    expect([...scheduler.refusals]).toEqual([{ reason: 'deadline_before_start', trafficClass: 'batch', count: 1 }]);
    ticket.end();
  });

  it('drops work when less is left than its run takes beside others, though more than a unit takes', async () => {
    const scheduler = schedulerWith({ sequences: 2 });
    await measureText(scheduler, 1000);
    // Both sequences held outside the backlog: nothing ahead, nothing measured when they free.
    const releases: (() => void)[] = [];
    const holds = [0, 1].map(() =>
      scheduler.pool.useSeveral([], 1, () => new Promise<void>((resolve) => releases.push(resolve))),
    );
    await tick();
    const ticket = scheduler.admit(texts(1), deadlineIn(5000)); // its text beside another: 2 s of 5
    let started = false;
    const later = scheduler.runClassification(
      { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', ticket },
      async () => (started = true),
    );
    await tick();
    jest.advanceTimersByTime(3800);
    releases[0]();
    // Its text would run beside the other held one: 2 s, more than the 1.2 s left.
    await expect(later).rejects.toMatchObject({ reason: 'deadline_before_start', leftMs: 1200 });
    expect(started).toBe(false);
    ticket.end();
    releases[1]();
    await Promise.all(holds);
  });

  it('lets work that started in time run past its deadline for as long as it was expected to take, then stops it', async () => {
    const timedOut = { kind: 'timeout', afterMs: 1500 };
    /** Runs a text that takes 1 s, admitted with 1.5 s left, until its signal fires for its deadline. */
    const runPastDeadline = async () => {
      const scheduler = schedulerWith();
      await measureText(scheduler, 1000);
      const controller = new AbortController();
      const ticket = scheduler.admit(texts(1), deadlineIn(1500));
      let finish = () => {};
      let leaseSignal: AbortSignal | undefined;
      const run = scheduler.runClassification(
        { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', ticket },
        (lease) => {
          leaseSignal = lease.signal;
          return new Promise<string>((resolve) => (finish = () => resolve('answered')));
        },
        controller.signal,
      );
      await tick();
      jest.advanceTimersByTime(1500);
      controller.abort(timedOut);
      const refusals = () => [...scheduler.refusals];
      return { run: run.finally(() => ticket.end()), finish: () => finish(), leaseSignal: leaseSignal!, refusals };
    };

    const late = await runPastDeadline();
    jest.advanceTimersByTime(999);
    expect(late.leaseSignal.aborted).toBe(false);
    late.finish();
    await expect(late.run).resolves.toMatchObject({ result: 'answered' });

    const stuck = await runPastDeadline();
    jest.advanceTimersByTime(1000); // a second run's worth past its deadline
    expect(stuck.leaseSignal.aborted).toBe(true);
    expect(stuck.leaseSignal.reason).toBe(timedOut);
    stuck.finish();
    await stuck.run;
    expect([...late.refusals(), ...stuck.refusals()]).toEqual([]);
  });
});

describe("Scheduler: a client's batches in order", () => {
  /** Runs one text of `ticket`'s request until `finish` is called. */
  const piece = (scheduler: Scheduler, ticket: ReturnType<Scheduler['admit']>, admitted = true) => {
    const state = { started: false, finish: () => {} };
    const done = scheduler.runClassification(
      { prefix: [], texts: 1, shareBatches: false, trafficClass: 'batch', admitted, ticket },
      () => new Promise<void>((resolve) => Object.assign(state, { started: true, finish: resolve })),
    );
    return Object.assign(state, { done });
  };

  it("starts a client's second batch only when its first ends, though a sequence is idle", async () => {
    const scheduler = schedulerWith({ sequences: 2 });
    const first = occupy(scheduler, texts(32));
    const ticket = scheduler.admit(texts(32));
    const second = piece(scheduler, ticket, false);
    await tick();
    expect(second.started).toBe(false);
    expect(scheduler.load()).toEqual({ busy: 1, queued: 1 });
    // Another client's batch takes the idle sequence meanwhile.
    const other = piece(scheduler, scheduler.admit({ ...texts(32), client: 'other' }), false);
    await tick();
    expect(other.started).toBe(true);
    first.finish();
    await first.done;
    await tick();
    expect(second.started).toBe(true);
    second.finish();
    other.finish();
    await Promise.all([second.done, other.done]);
    ticket.end();
  });

  it('counts a batch waiting behind its client as in line, and never refuses it for a full line once its turn comes', async () => {
    const scheduler = schedulerWith({ sequences: 1, maxQueue: 1 });
    const other = scheduler.admit({ ...texts(2), client: 'other' });
    const first = occupy(scheduler, texts(32));
    await tick();
    const ticket = scheduler.admit(texts(32));
    expect(() => scheduler.admit(texts(1))).toThrow(QueueFullError);
    const second = piece(scheduler, ticket, false);
    // Two later texts of another client's admitted batch wait in the pool's line.
    const others = [piece(scheduler, other), piece(scheduler, other)];
    await tick();
    first.finish();
    await first.done; // the sequence goes to the other client's first text, one of its texts still waits
    await tick();
    expect([others[0].started, second.started]).toEqual([true, false]);
    // Woken with the line full, the batch joins it; the clients then take turns.
    others[0].finish();
    await tick();
    expect([second.started, others[1].started]).toEqual([true, false]);
    second.finish();
    await tick();
    expect(others[1].started).toBe(true);
    others[1].finish();
    await Promise.all([second.done, ...others.map((o) => o.done)]);
    other.end();
    ticket.end();
  });
});
