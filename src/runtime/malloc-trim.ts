import { createRequire } from 'node:module';

interface MallocTrimAddon {
  mallocTrim(): boolean;
}

/** The optional native addon (native/malloc-trim); npm skips it where it cannot build (no compiler, not glibc). */
function loadAddon(): MallocTrimAddon | undefined {
  try {
    return createRequire(import.meta.url)('@duet/malloc-trim') as MallocTrimAddon;
  } catch {
    return undefined;
  }
}

const addon = loadAddon();

/** Whether freed native memory can be handed back to the OS on this system. */
export const mallocTrimAvailable = (): boolean => addon !== undefined;

/**
 * glibc's malloc_trim(0): returns the free pages inside its arenas to the OS. After load and after
 * each burst of work tens of MiB sit there freed but resident (docs/benchmark-runs.md#measurements-behind-constants),
 * which is both idle RSS and the noise that hides a slow leak. True when any memory was released.
 */
export function mallocTrim(): boolean {
  return addon?.mallocTrim() ?? false;
}
