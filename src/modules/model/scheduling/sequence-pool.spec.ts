import { jest } from '@jest/globals';
import type { Token } from 'node-llama-cpp';
import type { TrafficClass } from '../../../prompts/task-definitions.js';
import { DeadlineBeforeStartError, QueueFullError, RequestAbortedError, ShuttingDownError } from '../model.errors.js';
import { DecodeLock } from './decode-lock.js';
import { SequencePool, type PooledSequence } from './sequence-pool.js';

/** A sequence that keeps its evaluated tokens in an array and logs what the pool asks of it. */
class FakeSequence implements PooledSequence {
  readonly tokens: Token[] = [];
  readonly calls: string[] = [];
  failErase = false;
  failClear = false;
  /** Called as an evaluation starts. */
  onEvaluate?: () => void;

  constructor(readonly id: number) {}

  get nextTokenIndex(): number {
    return this.tokens.length;
  }

  async clearHistory(): Promise<void> {
    this.calls.push('clear');
    if (this.failClear) throw new Error('clear failed');
    this.tokens.length = 0;
  }

  async evaluateWithoutGeneratingNewTokens(tokens: Token[]): Promise<void> {
    this.calls.push(`evaluate ${tokens.length}`);
    this.onEvaluate?.();
    this.tokens.push(...tokens);
  }

  async eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void> {
    this.calls.push('erase');
    if (this.failErase) throw new Error('erase failed');
    for (const { start, end } of ranges) this.tokens.splice(start, end - start);
  }
}

const PREFIX = [1, 2, 3] as Token[];
const OTHER_PREFIX = [7, 8] as Token[];
const tick = () => new Promise((resolve) => setImmediate(resolve));

const timedOut = (afterMs: number) => ({ kind: 'timeout', afterMs }) as const;

function poolOf(
  size: number,
  { maxQueue = 4, reusePrefixes = true, retryAfter = (_: TrafficClass): number => 1 } = {},
) {
  const sequences = Array.from({ length: size }, (_, id) => new FakeSequence(id));
  return { sequences, pool: new SequencePool(sequences, maxQueue, new DecodeLock(), reusePrefixes, retryAfter) };
}

/** Holds one sequence until `release` is called; `id` is the sequence it got. */
function hold(
  pool: SequencePool<FakeSequence>,
  prefix: readonly Token[] = PREFIX,
  signal?: AbortSignal,
  trafficClass: TrafficClass = 'batch',
  client?: string,
) {
  const held = { id: -1, release: () => {}, done: Promise.resolve() };
  held.done = pool.useSeveral(
    prefix,
    1,
    ([sequence]) => {
      held.id = sequence.id;
      return new Promise<void>((resolve) => (held.release = resolve));
    },
    { signal, trafficClass, client },
  );
  return held;
}

describe('SequencePool', () => {
  it('hands out idle sequences lowest id first, then serves the line in arrival order', async () => {
    const { pool } = poolOf(2);
    const first = hold(pool);
    const second = hold(pool);
    await tick();
    expect([first.id, second.id]).toEqual([0, 1]);
    const third = hold(pool);
    const fourth = hold(pool);
    await tick();
    expect(pool.queued).toBe(2);
    second.release();
    await second.done;
    await tick();
    expect([third.id, fourth.id]).toEqual([1, -1]);
    first.release();
    await first.done;
    await tick();
    expect(fourth.id).toBe(0);
    third.release();
    fourth.release();
    await Promise.all([third.done, fourth.done]);
    expect({ busy: pool.busy, queued: pool.queued }).toEqual({ busy: 0, queued: 0 });
  });

  it('gives several sequences to one request only from those idle when it starts, in id order', async () => {
    const { pool } = poolOf(4);
    const blocker = hold(pool);
    await tick();
    const ids = await pool.useSeveral(PREFIX, 8, async (sequences) => sequences.map((s) => s.id));
    expect(ids).toEqual([1, 2, 3]);
    blocker.release();
    await blocker.done;
  });

  it('keeps a prefix evaluated between requests and erases everything after it', async () => {
    const { pool, sequences } = poolOf(1);
    await pool.useSeveral(PREFIX, 1, async ([sequence]) => {
      await sequence.evaluateWithoutGeneratingNewTokens([9, 9] as Token[]);
    });
    expect(sequences[0].tokens).toEqual(PREFIX);
    expect(sequences[0].calls).toEqual(['clear', 'evaluate 3', 'evaluate 2', 'erase']);
    sequences[0].calls.length = 0;
    await pool.useSeveral(PREFIX, 1, async () => {});
    expect(sequences[0].calls).toEqual([]); // reused as it is: nothing cleared, nothing evaluated again
  });

  it('clears and evaluates again for another prefix, and prefers an idle sequence already holding the one asked for', async () => {
    const { pool, sequences } = poolOf(2);
    const a = hold(pool, PREFIX);
    const b = hold(pool, OTHER_PREFIX);
    await tick();
    a.release();
    b.release();
    await Promise.all([a.done, b.done]);
    const again = hold(pool, OTHER_PREFIX);
    await tick();
    expect(again.id).toBe(1);
    again.release();
    await again.done;
    await pool.useSeveral(OTHER_PREFIX, 1, async ([sequence]) => expect(sequence.id).toBe(1));
    sequences[0].calls.length = 0;
    await pool.useSeveral(OTHER_PREFIX, 2, async () => {});
    expect(sequences[0].calls).toEqual(['clear', 'evaluate 2']);
    expect(sequences[0].tokens).toEqual(OTHER_PREFIX);
  });

  it('without prefix reuse evaluates the prefix for every request and leaves nothing behind', async () => {
    const { pool, sequences } = poolOf(1, { reusePrefixes: false });
    await pool.useSeveral(PREFIX, 1, async () => {});
    await pool.useSeveral(PREFIX, 1, async () => {});
    expect(sequences[0].calls).toEqual(['clear', 'evaluate 3', 'clear', 'clear', 'evaluate 3', 'clear']);
    expect(sequences[0].tokens).toEqual([]);
  });

  it('counts each sequence handed out for a prefix: a hit when it held it already, else a miss', async () => {
    const { pool } = poolOf(2);
    await pool.useSeveral(PREFIX, 1, async () => {});
    await pool.useSeveral(PREFIX, 1, async () => {});
    await pool.useSeveral(OTHER_PREFIX, 2, async () => {});
    await pool.useSeveral([], 1, async () => {}); // nothing to cache: not a lookup
    expect(pool.prefixLookups).toEqual({ hit: 1, miss: 3 });
    const uncached = poolOf(1, { reusePrefixes: false }).pool;
    await uncached.useSeveral(PREFIX, 1, async () => {});
    await uncached.useSeveral(PREFIX, 1, async () => {});
    expect(uncached.prefixLookups).toEqual({ hit: 0, miss: 2 });
  });

  it('gives every sequence back exactly once when the work throws, and rethrows its error', async () => {
    const { pool } = poolOf(2);
    const failure = new Error('work failed');
    await expect(
      pool.useSeveral(PREFIX, 2, async (held) => {
        expect(held).toHaveLength(2);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(pool.busy).toBe(0);
    const ids = await pool.useSeveral(PREFIX, 2, async (sequences) => sequences.map((s) => s.id));
    expect(ids).toEqual([0, 1]);
  });

  it('clears a sequence whose erase failed, and evaluates its prefix afresh for the next request', async () => {
    const { pool, sequences } = poolOf(1);
    sequences[0].failErase = true;
    await pool.useSeveral(PREFIX, 1, ([sequence]) => sequence.evaluateWithoutGeneratingNewTokens([9] as Token[]));
    expect(sequences[0].tokens).toEqual([]);
    sequences[0].failErase = false;
    sequences[0].calls.length = 0;
    await pool.useSeveral(PREFIX, 1, async () => {});
    expect(sequences[0].calls.slice(0, 2)).toEqual(['clear', 'evaluate 3']);
  });

  it('gives back a sequence whose cleanup failed, fails the request, and has the next holder clear it first', async () => {
    const { pool, sequences } = poolOf(1);
    Object.assign(sequences[0], { failErase: true, failClear: true });
    await expect(
      pool.useSeveral(PREFIX, 1, ([sequence]) => sequence.evaluateWithoutGeneratingNewTokens([9] as Token[])),
    ).rejects.toThrow('clear failed');
    expect(pool.busy).toBe(0);
    Object.assign(sequences[0], { failErase: false, failClear: false });
    sequences[0].calls.length = 0;
    await pool.useSeveral(PREFIX, 1, async () => {});
    expect(sequences[0].calls.slice(0, 2)).toEqual(['clear', 'evaluate 3']);
  });

  it('refuses past MAX_QUEUE waiting requests at once, with the Retry-After it is given for the class', async () => {
    const { pool } = poolOf(1, { maxQueue: 1, retryAfter: (trafficClass) => (trafficClass === 'batch' ? 7 : 2) });
    const running = hold(pool);
    const waiting = hold(pool);
    await tick();
    expect(() => pool.admit()).toThrow(QueueFullError);
    await expect(pool.useSeveral(PREFIX, 1, async () => {})).rejects.toMatchObject({
      reason: 'queue_full',
      trafficClass: 'batch',
      retryAfterSeconds: 7,
    });
    await expect(pool.useSeveral(PREFIX, 1, async () => {}, { trafficClass: 'interactive' })).rejects.toMatchObject({
      trafficClass: 'interactive',
      retryAfterSeconds: 2,
    });
    running.release();
    await running.done;
    await tick();
    waiting.release();
    await waiting.done;
  });

  it('lets a request whose signal fires leave the line at once', async () => {
    const { pool } = poolOf(1);
    const running = hold(pool);
    const controller = new AbortController();
    const waiting = hold(pool, PREFIX, controller.signal);
    await tick();
    controller.abort({ kind: 'client_gone' });
    await expect(waiting.done).rejects.toBeInstanceOf(RequestAbortedError);
    expect(pool.queued).toBe(0);
    running.release();
    await running.done;
  });

  it('drops a request whose deadline passes in line with DeadlineBeforeStartError, never starting its work', async () => {
    const { pool } = poolOf(1, { retryAfter: () => 3 });
    const running = hold(pool);
    const controller = new AbortController();
    let started = false;
    const waiting = pool.useSeveral(PREFIX, 1, async () => void (started = true), {
      signal: controller.signal,
      trafficClass: 'interactive',
      admitted: true, // a later item of a batch is dropped the same way
    });
    await tick();
    controller.abort(timedOut(250));
    const dropped = await waiting.catch((error: unknown) => error);
    expect(dropped).toBeInstanceOf(DeadlineBeforeStartError);
    expect(dropped).toMatchObject({
      reason: 'deadline_before_start',
      trafficClass: 'interactive',
      deadlineMs: 250,
      retryAfterSeconds: 3,
    });
    expect(pool.queued).toBe(0);
    running.release();
    await running.done;
    expect(started).toBe(false);
  });

  it('drops a request whose deadline passes while its prefix is evaluated, or passed already, before its work', async () => {
    const { pool, sequences } = poolOf(1);
    const controller = new AbortController();
    sequences[0].onEvaluate = () => controller.abort(timedOut(100));
    const work = jest.fn(async () => {});
    await expect(pool.useSeveral(PREFIX, 1, work, { signal: controller.signal })).rejects.toBeInstanceOf(
      DeadlineBeforeStartError,
    );
    await expect(pool.useSeveral(PREFIX, 1, work, { signal: controller.signal })).rejects.toBeInstanceOf(
      DeadlineBeforeStartError,
    );
    expect(work).not.toHaveBeenCalled();
    expect(pool.busy).toBe(0);
  });

  it('on close refuses the waiting requests and new ones, lets running ones finish, and stops them on stopRunning', async () => {
    const { pool } = poolOf(1);
    let stopped: AbortSignal | undefined;
    const running = pool.useSeveral(PREFIX, 1, (_sequences, signal) => {
      stopped = signal;
      return new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    const waiting = hold(pool);
    await tick();
    pool.close();
    await expect(waiting.done).rejects.toEqual(new ShuttingDownError(false));
    expect(() => pool.admit()).toThrow(ShuttingDownError);
    expect(stopped!.aborted).toBe(false);
    expect(pool.stopRunning()).toBe(1);
    await expect(running).rejects.toEqual(new ShuttingDownError(true));
    expect(pool.busy).toBe(0);
  });

  it('serves an interactive request in line before batch requests that came earlier', async () => {
    const { pool } = poolOf(1);
    const running = hold(pool);
    const batch = hold(pool);
    const interactive = hold(pool, OTHER_PREFIX, undefined, 'interactive');
    await tick();
    running.release();
    await running.done;
    await tick();
    expect([interactive.id, batch.id]).toEqual([0, -1]);
    interactive.release();
    await interactive.done;
    await tick();
    expect(batch.id).toBe(0);
    batch.release();
    await batch.done;
  });

  it('serves the clients of a class in turns, the one served longest ago first, each in arrival order', async () => {
    const { pool } = poolOf(1, { maxQueue: 8 });
    const served: string[] = [];
    const request = (name: string, client: string, trafficClass: TrafficClass = 'batch') =>
      pool.useSeveral(PREFIX, 1, async () => void served.push(name), { trafficClass, client });
    const running = hold(pool, PREFIX, undefined, 'batch', 'a');
    await tick();
    // One client's backfill, then another client's requests, and an interactive one between them.
    const line = ['a1', 'a2', 'a3', 'b1'].map((name) => request(name, name[0]));
    line.push(request('c1', 'c', 'interactive'), request('b2', 'b'));
    await tick();
    running.release();
    await Promise.all([running.done, ...line]);
    expect(served).toEqual(['c1', 'b1', 'a1', 'b2', 'a2', 'a3']);
  });

  it('keeps the reserved sequences from batch work, for interactive work to find idle', async () => {
    const { pool } = poolOf(2, { maxQueue: 1 });
    pool.reservedForInteractive = 1;
    const first = hold(pool);
    const second = hold(pool);
    await tick();
    expect([first.id, second.id, pool.busy, pool.queued]).toEqual([0, -1, 1, 1]);
    expect(() => pool.admit('batch')).toThrow(QueueFullError);
    expect(() => pool.admit('interactive')).not.toThrow();
    const chat = hold(pool, OTHER_PREFIX, undefined, 'interactive');
    await tick();
    expect(chat.id).toBe(1);
    chat.release();
    await chat.done;
    await tick();
    expect(second.id).toBe(-1); // the reserve is idle again, not handed to the batch request
    first.release();
    await first.done;
    await tick();
    expect(second.id).toBe(0);
    second.release();
    await second.done;
  });

  it('counts a sequence serving interactive work toward the reserve, and gives it back to the reserve', async () => {
    const { pool } = poolOf(3);
    pool.reservedForInteractive = 1;
    const chat = hold(pool, OTHER_PREFIX, undefined, 'interactive');
    const first = hold(pool);
    const second = hold(pool);
    const third = hold(pool);
    await tick();
    // The chat holds the reserve's sequence, so batch work takes both others meanwhile.
    expect([chat.id, first.id, second.id, third.id]).toEqual([0, 1, 2, -1]);
    chat.release();
    await chat.done;
    await tick();
    expect(third.id).toBe(-1); // the chat's sequence, holding its prefix, stays for the next chat
    first.release();
    await first.done;
    await tick();
    expect(third.id).toBe(1);
    second.release();
    third.release();
    await Promise.all([second.done, third.done]);
  });

  it('never reserves the last sequence, and leaves batch work the one not holding an interactive prefix', async () => {
    const { pool } = poolOf(2);
    pool.reservedForInteractive = 5;
    expect(pool.reservedForInteractive).toBe(1);
    await pool.useSeveral(OTHER_PREFIX, 1, async () => {}, { trafficClass: 'interactive' });
    const ids = await pool.useSeveral(PREFIX, 2, async (sequences) => sequences.map((s) => s.id));
    expect(ids).toEqual([1]);
  });
});
