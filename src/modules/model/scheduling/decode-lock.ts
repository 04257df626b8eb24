import type { TrafficClass } from '../../../prompts/task-definitions.js';

type Grant = {
  exclusive: boolean;
  trafficClass: TrafficClass;
  rank: number;
  grant: (release: () => void) => void;
};

/**
 * Interactive turns granted in a row while a batch turn waits, before that batch turn goes first:
 * batch work keeps at least one turn in this many + 1 however much interactive work arrives.
 */
export const BATCH_STARVATION_BOUND = 4;

/** Turns granted in a row ahead of an older turn of their class, before the oldest goes next. */
export const OVERTAKE_BOUND = 4;

/**
 * Readers-writer lock over the shared context's decode batches. llama.cpp's float rounding
 * depends on which tokens share a batch, so a classification takes the lock exclusively (its
 * batches hold its tokens alone, the same split every time) while generation steps take it
 * shared and may batch together.
 *
 * Waiters are served by class: an interactive turn (a chat, a classification a live screen waits
 * on) goes before every batch turn, except that after BATCH_STARVATION_BOUND interactive turns
 * granted while a batch turn waited, the oldest batch turn goes next. Within a class, the turn of
 * the lowest rank (its client's work outstanding, see Scheduler) goes first, in arrival order among
 * equals, so a client's single request is not slowed turn by turn by another's backfill running
 * beside it; after OVERTAKE_BOUND turns granted ahead of an older one, the oldest goes next. A
 * waiting exclusive turn chosen next holds back shared ones until the readers have left.
 */
export class DecodeLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Grant[] = [];
  /** Interactive turns granted since a batch turn last was, while one waited. */
  private interactiveInARow = 0;
  /** Turns granted ahead of an older one of their class since the oldest last was, by class. */
  private readonly overtakes: Record<TrafficClass, number> = { interactive: 0, batch: 0 };

  /** `rank`: lower goes first within the class (see above). */
  shared(trafficClass: TrafficClass = 'batch', rank = 0): Promise<() => void> {
    return this.enqueue(false, trafficClass, rank);
  }

  exclusive(trafficClass: TrafficClass = 'batch', rank = 0): Promise<() => void> {
    return this.enqueue(true, trafficClass, rank);
  }

  private enqueue(exclusive: boolean, trafficClass: TrafficClass, rank: number): Promise<() => void> {
    return new Promise((grant) => {
      this.waiting.push({ exclusive, trafficClass, rank, grant });
      this.pump();
    });
  }

  /** The waiter whose turn is next: see the class rules above. */
  private nextIndex(): number {
    const interactive = this.nextOf('interactive');
    const batch = this.nextOf('batch');
    if (interactive < 0) return batch;
    if (batch < 0) return interactive;
    return this.interactiveInARow >= BATCH_STARVATION_BOUND ? batch : interactive;
  }

  /** The next waiter of a class: the lowest rank, unless the oldest has been overtaken enough. */
  private nextOf(trafficClass: TrafficClass): number {
    let oldest = -1;
    let lowest = -1;
    this.waiting.forEach((waiter, index) => {
      if (waiter.trafficClass !== trafficClass) return;
      if (oldest < 0) oldest = index;
      if (lowest < 0 || waiter.rank < this.waiting[lowest].rank) lowest = index;
    });
    return this.overtakes[trafficClass] >= OVERTAKE_BOUND ? oldest : lowest;
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.writer) {
      const index = this.nextIndex();
      const next = this.waiting[index];
      if (next.exclusive && this.readers > 0) return;
      const oldest = this.waiting.findIndex((waiter) => waiter.trafficClass === next.trafficClass);
      this.overtakes[next.trafficClass] = index === oldest ? 0 : this.overtakes[next.trafficClass] + 1;
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
