import type { Ticket } from './backlog.js';
import { onAbort } from './on-abort.js';

interface Place {
  ticket: Ticket;
  /** Called once the ticket is first in its lane. */
  wake?: () => void;
}

/**
 * Requests of several units (a batch, a triage of several starts) of one client and class run one
 * after another, in admission order, while its single-unit requests run as they come. A batch is
 * scheduled unit by unit, so without this two batches of a client would take turns and finish
 * together, both late when the second was one too many; in order, the earlier one finishes as it
 * was promised at admission (see Backlog: a client's own earlier work all goes first) and the later
 * one only waits.
 */
export class ClientLanes {
  private readonly lanes = new Map<string, Place[]>();

  /** Requests waiting for their turn in a lane. */
  get waiting(): number {
    let count = 0;
    for (const lane of this.lanes.values()) count += lane.length - 1;
    return count;
  }

  /** Puts an admitted request of several units at the end of its client's lane; it leaves when the ticket ends. */
  join(ticket: Ticket): void {
    const key = laneOf(ticket);
    const lane = this.lanes.get(key) ?? [];
    lane.push({ ticket });
    this.lanes.set(key, lane);
    ticket.onEnd(() => this.leave(key, ticket));
  }

  /**
   * Resolves once `ticket` is first in its lane: at once with false when it is, or has none, else
   * with true; rejects with `notStarted(reason)` if `signal` fires before.
   */
  turn(
    ticket: Ticket | undefined,
    signal: AbortSignal | undefined,
    notStarted: (reason: unknown) => Error,
  ): Promise<boolean> {
    const lane = ticket && this.lanes.get(laneOf(ticket));
    const place = lane?.find((candidate) => candidate.ticket === ticket);
    if (!place || lane![0] === place) return Promise.resolve(false);
    if (signal?.aborted) return Promise.reject(notStarted(signal.reason));
    return new Promise((resolve, reject) => {
      const stopListening = onAbort(signal, () => {
        place.wake = undefined;
        reject(notStarted(signal!.reason));
      });
      place.wake = () => {
        stopListening();
        resolve(true);
      };
    });
  }

  private leave(key: string, ticket: Ticket): void {
    const lane = this.lanes.get(key)!;
    const wasFirst = lane[0]?.ticket === ticket;
    lane.splice(
      lane.findIndex((place) => place.ticket === ticket),
      1,
    );
    if (lane.length === 0) this.lanes.delete(key);
    else if (wasFirst) lane[0].wake?.();
  }
}

const laneOf = (ticket: Ticket) => JSON.stringify([ticket.trafficClass, ticket.client ?? '']);
