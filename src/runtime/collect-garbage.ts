import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocTrim } from './malloc-trim.js';

type GcFunction = (options?: { type: 'minor' }) => void;

const exposedGc = (globalThis as { gc?: GcFunction }).gc;
let runtimeGc: GcFunction | undefined;

/** True when the process was started with --expose-gc (soak runs are; production need not be). */
export const gcExposed = (): boolean => exposedGc !== undefined;

/** V8's gc(), also without --expose-gc: a new context gets it once the flag is set, as jest's leak detector does. */
function gcFunction(): GcFunction {
  if (exposedGc) return exposedGc;
  if (!runtimeGc) {
    setFlagsFromString('--expose-gc');
    runtimeGc = runInNewContext('gc') as GcFunction;
    setFlagsFromString('--no-expose-gc');
  }
  return runtimeGc;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A full V8 collection, then two event-loop turns so the native finalizers it queued have run:
 * node-llama-cpp frees a sampler's 1.8 MiB candidate buffer (vocabulary size x 12 bytes, one
 * sampler per evaluation) only in its finalizer, not on dispose. Plain gc(): with
 * `{type: 'major'}` those buffers stayed, and a soak's memory slope went from flat to steep
 * (docs/benchmark-runs.md#measurements-behind-constants).
 */
export async function collectGarbage(): Promise<void> {
  gcFunction()();
  await nextTurn();
  await nextTurn();
}

/** collectGarbage, then malloc_trim: what it freed leaves the process instead of waiting in glibc's arenas. */
export async function releaseFreedMemory(): Promise<void> {
  await collectGarbage();
  mallocTrim();
}

/** A young-generation collection (well under a millisecond): frees samplers that died since the last one. */
export function collectYoungGarbage(): void {
  gcFunction()({ type: 'minor' });
}
