import type { LlamaContextSequence } from 'node-llama-cpp';
import type { TrafficClass } from '../../../prompts/task-definitions.js';
import type { DecodeLock, TurnOrder } from './decode-lock.js';
import type { GenerationSteps } from './generation-steps.js';

/** Decode steps a generation takes per turn at the decode lock: a turn of a few hundred milliseconds at most. */
export const GENERATION_STEPS_PER_LOCK = 8;

/**
 * The turns of one generation's decode steps. The decode lock is taken shared, so concurrent
 * generations batch together, and held for GENERATION_STEPS_PER_LOCK steps: a classification waits
 * at most that long, and a chat is not held to one token per classification. From its second step
 * on, each step also waits at the step barrier (see GenerationSteps); its prompt does not.
 */
export class GenerationTurns {
  private step = 0;
  private release?: () => void;

  constructor(
    private readonly lock: DecodeLock,
    private readonly steps: GenerationSteps,
    private readonly sequence: LlamaContextSequence,
    private readonly trafficClass: TrafficClass,
    /** Its turns' order at the decode lock (see DecodeLock); by default, their arrival. */
    private readonly order?: TurnOrder,
  ) {}

  /** Waits until the next step may be evaluated. */
  async beforeStep(): Promise<void> {
    this.step++;
    this.release ??= await this.lock.shared(this.trafficClass, this.order);
    if (this.step > 1) await this.steps.startStep(this.sequence);
  }

  /** The step is evaluated and its token sampled. */
  afterStep(): void {
    this.steps.stepEnded(this.sequence);
    if (this.step % GENERATION_STEPS_PER_LOCK === 0) {
      // Still one of the generations others wait for (see GenerationSteps): it takes the lock
      // back at once unless a classification waits for it, and then they wait 5 ms at most.
      this.release!();
      this.release = undefined;
    }
  }

  /** The generation is done: others no longer wait for its steps, and its turn at the lock ends. */
  end(): void {
    this.steps.leave(this.sequence);
    this.release?.();
  }
}
