import { collectYoungGarbage, releaseFreedMemory } from '../../../runtime/collect-garbage.js';

/**
 * Keeps the native memory of finished evaluations from piling up. Each node-llama-cpp evaluation
 * owns a sampler with a 1.8 MiB native buffer that is freed only when V8 collects the sampler;
 * V8 cannot see that memory and this service allocates little JavaScript, so without help a
 * burst left tens of MiB waiting for the next collection (docs/benchmark-runs.md#measurements-behind-constants). A young-generation
 * collection every `evaluationsPerCollection` evaluations caps the backlog (samplers die young),
 * and a full one plus malloc_trim once the pool has been idle for `idleDelayMs` returns the rest
 * to the OS.
 */
export class SamplerGarbage {
  private sinceCollection = 0;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    private readonly evaluationsPerCollection = 16,
    private readonly idleDelayMs = 1000,
  ) {}

  evaluated(): void {
    if (++this.sinceCollection < this.evaluationsPerCollection) return;
    this.sinceCollection = 0;
    collectYoungGarbage();
  }

  /** Work started: an idle collection still pending is not needed yet. */
  busy(): void {
    clearTimeout(this.idleTimer);
  }

  /** The pool has nothing to do: release everything once it has stayed that way for a moment. */
  idle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void releaseFreedMemory(), this.idleDelayMs).unref();
  }
}
