import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  rssBytes: number;
  /** Anonymous resident memory: heap, KV cache, buffers. Leaks show here, not in the mmapped weights. */
  rssAnonBytes: number;
  /** Swapped-out memory: a leak that got swapped out hides from RSS but not from this. */
  swapBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

/** Reads `/proc/self/status` (kB figures) plus V8's own accounting. */
export function readProcessMemory(statusPath = '/proc/self/status'): ProcessMemory {
  let status = '';
  try {
    status = readFileSync(statusPath, 'utf8');
  } catch {
    // Not Linux: only V8 figures and RSS are available.
  }
  const kib = (field: string) => {
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) * 1024 : 0;
  };
  const v8 = process.memoryUsage();
  return {
    rssBytes: kib('VmRSS') || v8.rss,
    rssAnonBytes: kib('RssAnon'),
    swapBytes: kib('VmSwap'),
    heapUsedBytes: v8.heapUsed,
    heapTotalBytes: v8.heapTotal,
    externalBytes: v8.external,
    arrayBuffersBytes: v8.arrayBuffers,
  };
}
