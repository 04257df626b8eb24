import type { LlamaContextSequence } from 'node-llama-cpp';

/** Thrown when MAX_QUEUE requests already wait for a sequence: answer 503 now, not later. */
export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`All sequences are busy and ${maxQueue} requests are already waiting`);
  }
}

/** The request's signal fired (client gone or deadline passed): its work was dropped before or while it ran. */
export class RequestAbortedError extends Error {
  constructor() {
    super('The client closed the request');
  }
}

/**
 * A fixed set of sequences of the one context, handed out one request at a time, in arrival
 * order, with a bounded line in front so latency cannot grow without bound.
 */
export class SequencePool {
  private readonly idle: LlamaContextSequence[];
  private readonly waiters: Array<(sequence: LlamaContextSequence) => void> = [];

  constructor(
    private readonly sequences: readonly LlamaContextSequence[],
    readonly maxQueue: number,
  ) {
    this.idle = [...sequences];
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

  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Runs `work` on a sequence whose state was cleared first, and clears it again afterwards so
   * nothing of one request stays in the KV cache for the next.
   */
  async use<T>(work: (sequence: LlamaContextSequence) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new RequestAbortedError();
    if (this.saturated) throw new QueueFullError(this.maxQueue);
    const sequence = this.idle.pop() ?? (await this.waitInLine(signal));
    try {
      await sequence.clearHistory();
      return await work(sequence);
    } finally {
      await sequence.clearHistory();
      const next = this.waiters.shift();
      if (next) next(sequence);
      else this.idle.push(sequence);
    }
  }

  /** Waits for a released sequence; a request whose signal fires gives up its place at once. */
  private waitInLine(signal?: AbortSignal): Promise<LlamaContextSequence> {
    return new Promise((resolve, reject) => {
      const leave = () => {
        this.waiters.splice(this.waiters.indexOf(take), 1);
        reject(new RequestAbortedError());
      };
      const take = (sequence: LlamaContextSequence) => {
        signal?.removeEventListener('abort', leave);
        resolve(sequence);
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiters.push(take);
    });
  }
}
