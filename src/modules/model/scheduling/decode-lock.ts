import type { TrafficClass } from '../../../prompts/task-definitions.js';

/** Where a waiting turn stands within its class (see DecodeLock). */
export interface TurnOrder {
  /** Lower goes first: its client's work outstanding, read each time the next turn is chosen. */
  rank(): number;
  /** When its request was admitted, on performance.now()'s clock: among equal ranks the oldest goes first. */
  since: number;
}

/** A released turn: its class, whether it was exclusive, and how long it was held, in ms. */
export interface HeldTurn {
  trafficClass: TrafficClass;
  exclusive: boolean;
  ms: number;
}

type Grant = {
  exclusive: boolean;
  trafficClass: TrafficClass;
  order: TurnOrder;
  /** A request's turn (it came with an order): the request may ask for its next one right after. */
  ofRequest: boolean;
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
 * the lowest rank (its client's work outstanding, see Scheduler) goes first, so a client's single
 * request is not slowed turn by turn by another's backfill running beside it; among equal ranks,
 * the turn of the request admitted first, so requests running side by side end one after another
 * in the order they were admitted (each after the work admitted before it, as admission
 * estimates), not all together at the end. For that, the turn after a request's exclusive one is
 * chosen once the request has had the chance to ask again. After OVERTAKE_BOUND turns
 * granted ahead of an older one, the oldest goes next. A waiting exclusive turn chosen next holds
 * back shared ones until the readers have left.
 */
export class DecodeLock {
  private readers = 0;
  private writer = false;
  private readonly waiting: Grant[] = [];
  /** Interactive turns granted since a batch turn last was, while one waited. */
  private interactiveInARow = 0;
  /** Turns granted ahead of an older one of their class since the oldest last was, by class. */
  private readonly overtakes: Record<TrafficClass, number> = { interactive: 0, batch: 0 };
  private readonly heldListeners: ((turn: HeldTurn) => void)[] = [];

  /** Calls `listener` as each turn is released, with how long it was held (what a turn of a higher class waited behind). */
  onTurnHeld(listener: (turn: HeldTurn) => void): void {
    this.heldListeners.push(listener);
  }

  /** `order`: its request's place within the class (see above); without one, rank 0 and its arrival. */
  shared(trafficClass: TrafficClass = 'batch', order?: TurnOrder): Promise<() => void> {
    return this.enqueue(false, trafficClass, order);
  }

  exclusive(trafficClass: TrafficClass = 'batch', order?: TurnOrder): Promise<() => void> {
    return this.enqueue(true, trafficClass, order);
  }

  private enqueue(exclusive: boolean, trafficClass: TrafficClass, order?: TurnOrder): Promise<() => void> {
    return new Promise((grant) => {
      this.waiting.push({
        exclusive,
        trafficClass,
        order: order ?? { rank: () => 0, since: performance.now() },
        ofRequest: order !== undefined,
        grant,
      });
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

  /**
   * The next waiter of a class: the lowest rank, then the earliest admitted, unless the oldest
   * waiter has been overtaken enough.
   */
  private nextOf(trafficClass: TrafficClass): number {
    let oldest = -1;
    let first = -1;
    let firstRank = Infinity;
    this.waiting.forEach((waiter, index) => {
      if (waiter.trafficClass !== trafficClass) return;
      if (oldest < 0) oldest = index;
      const rank = waiter.order.rank();
      if (rank < firstRank || (rank === firstRank && waiter.order.since < this.waiting[first].order.since)) {
        first = index;
        firstRank = rank;
      }
    });
    return this.overtakes[trafficClass] >= OVERTAKE_BOUND ? oldest : first;
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
      const grantedAt = performance.now();
      next.grant(() => {
        if (released) return;
        released = true;
        const held = { trafficClass: next.trafficClass, exclusive: next.exclusive, ms: performance.now() - grantedAt };
        for (const listener of this.heldListeners) listener(held);
        if (next.exclusive) this.writer = false;
        else this.readers--;
        // A request's classification asks for its next turn right after releasing one (a few
        // promise callbacks later): choosing once those have run lets the earliest admitted go on.
        if (next.exclusive && next.ofRequest) setImmediate(() => this.pump());
        else this.pump();
      });
    }
  }
}
