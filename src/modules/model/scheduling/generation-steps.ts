import type { LlamaContextSequence } from 'node-llama-cpp';

/** The longest a step waits for a generation that is between two steps (sampling done, checking its text). */
export const STEP_WAIT_CAP_MS = 5;
/** A guard: no step waits longer than this for the others, whatever they do. */
const MAX_WAIT_MS = 1000;

/** Where a generation holding the decode lock is: between two steps, waiting to start one, or in one. */
interface Stepping {
  state: 'between' | 'waiting' | 'in-step';
  /** When it entered that state. */
  since: number;
  start?: () => void;
}

/**
 * Starts the steps of concurrent generations together, so that they share one batch. node-llama-cpp
 * keeps decoding while evaluations are queued: four chats started together fell out of step for
 * good, one chat's step running alone while the other three queued theirs, which were decoded as
 * soon as it ended, before its next token came. Each step then took two or three decodes, each
 * paying the full read of the weights (docs/benchmark-runs.md#measurements-behind-constants).
 *
 * A generation asks `startStep` before each step after its prompt; the steps start together once no
 * generation is still in a step (the context is busy with it: waiting costs nothing) and every other
 * one is waiting too or has been between two steps for STEP_WAIT_CAP_MS. A lone generation starts
 * at once. A prompt is no such step: it may take several decodes, which others' steps share.
 */
export class GenerationSteps {
  private readonly stepping = new Map<LlamaContextSequence, Stepping>();
  private timer?: NodeJS.Timeout;

  /** Resolves when `sequence` may evaluate its next step; from then on others' steps wait for its own. */
  startStep(sequence: LlamaContextSequence): Promise<void> {
    return new Promise<void>((start) => {
      this.stepping.set(sequence, { state: 'waiting', since: performance.now(), start });
      this.check();
    });
  }

  /** `sequence`'s step is evaluated and its token sampled. */
  stepEnded(sequence: LlamaContextSequence): void {
    const entry = this.stepping.get(sequence);
    if (entry) Object.assign(entry, { state: 'between', since: performance.now(), start: undefined });
    this.check();
  }

  /** `sequence` is done generating: others no longer wait for it. */
  leave(sequence: LlamaContextSequence): void {
    const entry = this.stepping.get(sequence);
    this.stepping.delete(sequence);
    entry?.start?.();
    this.check();
  }

  private check(): void {
    clearTimeout(this.timer);
    const entries = [...this.stepping.values()];
    const waiting = entries.filter((entry) => entry.state === 'waiting');
    if (waiting.length === 0) return;
    const now = performance.now();
    const guardMs = MAX_WAIT_MS - Math.max(...waiting.map((entry) => now - entry.since));
    const inStep = entries.some((entry) => entry.state === 'in-step');
    const betweenMs = Math.max(
      0,
      ...entries.filter((entry) => entry.state === 'between').map((entry) => STEP_WAIT_CAP_MS - (now - entry.since)),
    );
    // An in-step generation ends with stepEnded, which checks again; the timer covers the caps.
    const waitMs = Math.min(guardMs, inStep ? Infinity : betweenMs);
    if (waitMs > 0) {
      this.timer = setTimeout(() => this.check(), waitMs);
      return;
    }
    for (const entry of waiting) {
      const start = entry.start!;
      Object.assign(entry, { state: 'in-step', since: now, start: undefined });
      start();
    }
  }
}
