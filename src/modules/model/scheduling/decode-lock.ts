import type { TrafficClass } from '../../../prompts/task-definitions.js';

type Grant = { exclusive: boolean; trafficClass: TrafficClass; grant: (release: () => void) => void };

/**
 * Interactive turns granted in a row while a batch turn waits, before that batch turn goes first:
 * batch work keeps at least one turn in this many + 1 however much interactive work arrives.
 */
export const BATCH_STARVATION_BOUND = 4;

/**
 * Readers-writer lock over the shared context's decode batches. llama.cpp's float rounding
 * depends on which tokens share a batch, so a classification takes the lock exclusively (its
 * batches hold its tokens alone, the same split every time) while generation steps take it
 * shared and may batch together.
 *
 * Waiters are served by class, then in arrival order: an interactive turn (a chat, a classification
 * a live screen waits on) goes before every batch turn, except that after BATCH_STARVATION_BOUND
 * interactive turns granted while a batch turn waited, the oldest batch turn goes next. Within a
 * class nobody overtakes: a waiting exclusive turn holds back later shared ones of its class.
 */
export class DecodeLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Grant[] = [];
  /** Interactive turns granted since a batch turn last was, while one waited. */
  private interactiveInARow = 0;

  shared(trafficClass: TrafficClass = 'batch'): Promise<() => void> {
    return this.enqueue(false, trafficClass);
  }

  exclusive(trafficClass: TrafficClass = 'batch'): Promise<() => void> {
    return this.enqueue(true, trafficClass);
  }

  private enqueue(exclusive: boolean, trafficClass: TrafficClass): Promise<() => void> {
    return new Promise((grant) => {
      this.waiting.push({ exclusive, trafficClass, grant });
      this.pump();
    });
  }

  /** The waiter whose turn is next: see the class rules above. */
  private nextIndex(): number {
    const interactive = this.waiting.findIndex((waiter) => waiter.trafficClass === 'interactive');
    const batch = this.waiting.findIndex((waiter) => waiter.trafficClass === 'batch');
    if (interactive < 0) return batch;
    if (batch < 0) return interactive;
    return this.interactiveInARow >= BATCH_STARVATION_BOUND ? batch : interactive;
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.writer) {
      const index = this.nextIndex();
      const next = this.waiting[index];
      if (next.exclusive && this.readers > 0) return;
      this.waiting.splice(index, 1);
      const batchWaits = this.waiting.some((waiter) => waiter.trafficClass === 'batch');
      if (next.trafficClass === 'batch') this.interactiveInARow = 0;
      else if (batchWaits) this.interactiveInARow++;
      if (next.exclusive) this.writer = true;
      else this.readers++;
      let released = false;
      next.grant(() => {
        if (released) return;
        released = true;
        if (next.exclusive) this.writer = false;
        else this.readers--;
        this.pump();
      });
    }
  }
}
