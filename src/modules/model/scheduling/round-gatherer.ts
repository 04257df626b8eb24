import { RequestAbortedError } from '../model.errors.js';
import { onAbort } from './on-abort.js';

/**
 * What one more micro-batch costs, in prompt tokens evaluated; padding a whole round to its longest
 * member costs more than it saves. Measured: docs/benchmark-runs.md#measurements-behind-constants.
 */
export const MICRO_BATCH_COST_TOKENS = 6;

/**
 * The length each first evaluation of a round is padded to: lengths are grouped, similar ones
 * together, and each group padded to its longest, at the least cost counting every group as one
 * micro-batch (MICRO_BATCH_COST_TOKENS) plus every token evaluated, padding included. Near
 * lengths end up one length; a far longer one keeps its own instead of padding all to it.
 */
export function paddedLengths(tokens: readonly number[], microBatchCost = MICRO_BATCH_COST_TOKENS): number[] {
  const sorted = [...tokens].sort((a, b) => a - b);
  // cost[i]: the cheapest grouping of the i shortest; groupStart[i]: where its last group starts.
  const cost = [0];
  const groupStart = [0];
  for (let end = 1; end <= sorted.length; end++) {
    cost[end] = Infinity;
    for (let start = 0; start < end; start++) {
      const candidate = cost[start] + microBatchCost + (end - start) * sorted[end - 1];
      if (candidate < cost[end]) [cost[end], groupStart[end]] = [candidate, start];
    }
  }
  const lengthOf = new Map<number, number>();
  for (let end = sorted.length; end > 0; end = groupStart[end])
    for (const length of sorted.slice(groupStart[end], end)) lengthOf.set(length, sorted[end - 1]);
  return tokens.map((length) => lengthOf.get(length)!);
}

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
   * its first evaluation adds (see paddedLengths). Rejects at once, leaving the round, when the
   * signal fires: the request's deadline bounds its wait.
   */
  join(order: number, tokens: number, signal: AbortSignal): Promise<number>;
  /** Done with the round (or never joined one): idempotent. */
  leave(): void;
}

/**
 * Gathers single classifications (throughput mode) into rounds: members start their first
 * evaluation together, in ascending sequence order, similar lengths padded to one (see
 * paddedLengths), so llama.cpp, which cuts a multi-sequence batch into micro-batches of
 * consecutive sequence ids with equal tokens, evaluates a round in as few micro-batches as pay.
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
  private readonly roundsStarted = new Map<number, number>();

  constructor(
    private readonly windowMs: number,
    private readonly sequences: number,
  ) {}

  /** Rounds started so far, by how many members they had. */
  get roundsByMembers(): ReadonlyMap<number, number> {
    return this.roundsStarted;
  }

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
              stopListening();
              resolve(padding);
            },
          };
          const stopListening = onAbort(signal, () => {
            state = 'left';
            this.members = this.members.filter((m) => m !== member);
            if (this.members.length === 0) this.stopTimer();
            else this.startIfReady();
            reject(new RequestAbortedError(signal.reason));
          });
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
    this.roundsStarted.set(round.length, (this.roundsStarted.get(round.length) ?? 0) + 1);
    const lengths = paddedLengths(round.map((member) => member.tokens));
    queueMicrotask(() => round.forEach((member, i) => member.start(lengths[i] - member.tokens)));
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.windowPassed = false;
  }
}
