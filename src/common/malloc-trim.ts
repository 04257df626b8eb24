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
 * each burst of work, 25-70 MiB sits there freed but resident (measured on the 0.5B layout: docs/benchmark-runs.md), which
 * is both idle RSS and the noise that hides a slow leak. True when any memory was released.
 */
export function mallocTrim(): boolean {
  return addon?.mallocTrim() ?? false;
}
