import type { LlamaContextSequence } from 'node-llama-cpp';

/** A fixed set of sequences of the one context, handed out one request at a time, in arrival order. */
export class SequencePool {
  private readonly idle: LlamaContextSequence[];
  private readonly waiters: Array<(sequence: LlamaContextSequence) => void> = [];

  constructor(private readonly sequences: readonly LlamaContextSequence[]) {
    this.idle = [...sequences];
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
  async use<T>(work: (sequence: LlamaContextSequence) => Promise<T>): Promise<T> {
    const sequence = this.idle.pop() ?? (await new Promise<LlamaContextSequence>((resolve) => this.waiters.push(resolve)));
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
}
