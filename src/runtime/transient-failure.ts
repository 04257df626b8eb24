/** errno codes of failures that can pass without anyone changing the setup: memory, I/O, file table, disk space. */
const TRANSIENT_ERRNO = new Set(['ENOMEM', 'EIO', 'ENOSPC', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY']);

/** How llama.cpp (ggml) and the C++ runtime say an allocation failed. */
export const ALLOCATION_FAILURE =
  /failed to allocate|insufficient memory|out of memory|cannot allocate memory|bad_alloc/i;

/** Whether a restart may succeed where this failed: out of memory or an I/O error, not a wrong setting or file. */
export function isTransientFailure(error: unknown): boolean {
  const { code, message } = (error ?? {}) as NodeJS.ErrnoException;
  return TRANSIENT_ERRNO.has(code ?? '') || ALLOCATION_FAILURE.test(message ?? '');
}
