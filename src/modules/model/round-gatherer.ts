import { RequestAbortedError } from './model.errors.js';

interface Member {
  /** The member's sequence's place in the pool: llama.cpp's sequence id order. */
  order: number;
  /** Tokens of its first evaluation. */
  tokens: number;
  start(padding: number): void;
}

/** A classification on its way to a round: it counts as expected company until it joins or leaves. */
export interface Arrival {
  /**
   * Waits for the round this classification joins to start; resolves with how many filler tokens
   * its first evaluation adds so that every member's is as long as the longest. Rejects at once,
   * leaving the round, when the signal fires.
   */
  join(order: number, tokens: number, signal: AbortSignal): Promise<number>;
  /** Done with the round (or never joined one): idempotent. */
  leave(): void;
}

/**
 * Gathers single classifications (throughput mode) into rounds: members start their first
 * evaluation together, in ascending sequence order and padded to one length, so llama.cpp, which
 * cuts a multi-sequence batch into micro-batches of consecutive sequence ids with equal tokens,
 * evaluates the round as one micro-batch.
 *
 * A round waits only while company is expected: classifications already on their way, or as many
 * members as the last round had (closed-loop clients come back together). It is ready when that
 * many have joined, when every sequence has a member, or when the window has passed since it
 * opened, so a lone client never waits and a shrinking crowd waits at most one window before the
 * next round expects fewer. A ready round starts once the members of the one before are done: its
 * tokens could not be evaluated sooner, and mixed into the running round's batches they would
 * make those uneven.
 */
export class RoundGatherer {
  private members: Member[] = [];
  private timer?: NodeJS.Timeout;
  private windowPassed = false;
  private arriving = 0;
  /** Members of started rounds that have not left yet. */
  private running = 0;
  private lastRoundSize = 1;

  constructor(
    private readonly windowMs: number,
    private readonly sequences: number,
  ) {}

  arrive(): Arrival {
    this.arriving++;
    let state: 'arriving' | 'gathering' | 'running' | 'left' = 'arriving';
    const leave = () => {
      if (state === 'arriving') this.arriving--;
      else if (state === 'running') this.running--;
      else return;
      state = 'left';
      // One fewer on its way, or a round done, may be all the next round was waiting for.
      this.startIfReady();
    };
    return {
      leave,
      join: (order, tokens, signal) => {
        if (signal.aborted) return Promise.reject(new RequestAbortedError(signal.reason));
        return new Promise<number>((resolve, reject) => {
          const member: Member = {
            order,
            tokens,
            start: (padding) => {
              state = 'running';
              signal.removeEventListener('abort', abandon);
              resolve(padding);
            },
          };
          const abandon = () => {
            state = 'left';
            this.members = this.members.filter((m) => m !== member);
            if (this.members.length === 0) this.stopTimer();
            else this.startIfReady();
            reject(new RequestAbortedError(signal.reason));
          };
          signal.addEventListener('abort', abandon, { once: true });
          this.members.push(member);
          state = 'gathering';
          this.arriving--;
          this.timer ??= setTimeout(() => {
            this.windowPassed = true;
            this.startIfReady();
          }, this.windowMs);
          this.startIfReady();
        });
      },
    };
  }

  private startIfReady(): void {
    if (this.members.length === 0 || this.running > 0) return;
    const expected = Math.min(this.sequences, Math.max(this.lastRoundSize, this.members.length + this.arriving));
    if (this.members.length < expected && !this.windowPassed && this.windowMs > 0) return;
    // Started a microtask later: the member joining now has then awaited its promise like the
    // others, so their continuations, and with them their evaluations, run in sequence order.
    const round = this.members.sort((a, b) => a.order - b.order);
    this.members = [];
    this.stopTimer();
    this.running += round.length;
    this.lastRoundSize = round.length;
    const longest = Math.max(...round.map((member) => member.tokens));
    queueMicrotask(() => {
      for (const member of round) member.start(longest - member.tokens);
    });
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.windowPassed = false;
  }
}
