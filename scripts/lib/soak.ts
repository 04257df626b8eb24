import { loadSoakTexts, soakRequest, SoakRequest } from './soak-traffic.js';

export interface SoakOptions {
  url: string;
  concurrency: number;
  /** Stop after this many requests or this long, whichever comes first. */
  maxRequests: number;
  durationMs: number;
  /** Requests before this fraction of the run are warm-up and left out of the slope. */
  warmupFraction: number;
  /** Memory is sampled every this many requests. */
  sampleEvery: number;
  maxSlopeKiBPer1000: number;
  maxBodyBytes: number;
  texts?: readonly string[];
}

interface MemorySample {
  requests: number;
  anonSwapKiB: number;
  rssKiB: number;
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  const covariance = points.reduce((s, p) => s + (p.x - meanX) * (p.y - meanY), 0);
  const variance = points.reduce((s, p) => s + (p.x - meanX) ** 2, 0);
  return variance === 0 ? 0 : covariance / variance;
}

async function send(url: string, request: SoakRequest): Promise<number | 'aborted'> {
  const controller = new AbortController();
  const timer = request.abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), request.abortAfterMs);
  try {
    const response = await fetch(url + request.path, {
      method: 'POST', body: request.body, headers: { 'content-type': request.contentType }, signal: controller.signal,
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    if (controller.signal.aborted) return 'aborted';
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The server's own figures (GET /health/memory), after a full GC when the server exposes one. */
async function sampleMemory(url: string, requests: number): Promise<MemorySample> {
  const snapshot = (await (await fetch(`${url}/health/memory?gc=true`)).json()) as { rssAnonBytes: number; swapBytes: number; rssBytes: number };
  return { requests, anonSwapKiB: (snapshot.rssAnonBytes + snapshot.swapBytes) / 1024, rssKiB: snapshot.rssBytes / 1024 };
}

/**
 * Drives the fixed traffic mix at a live server with `concurrency` clients, samples its memory,
 * and fits the slope of RssAnon + VmSwap after warm-up, in KiB per 1,000 requests.
 */
export async function runSoak(options: SoakOptions) {
  const texts = options.texts ?? loadSoakTexts();
  const started = Date.now();
  const byStatus: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  const samples: MemorySample[] = [await sampleMemory(options.url, 0)];
  let issued = 0;
  let done = 0;
  let sampling = Promise.resolve();
  const client = async () => {
    while (issued < options.maxRequests && Date.now() - started < options.durationMs) {
      const request = soakRequest(issued++, texts, options.maxBodyBytes);
      const status = await send(options.url, request).catch((error: Error) => `failed:${error.message}`);
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status !== 'aborted' && !request.expect.includes(status as number)) unexpected[`${request.kind}:${status}`] = (unexpected[`${request.kind}:${status}`] ?? 0) + 1;
      if (++done % options.sampleEvery === 0) {
        const at = done;
        sampling = sampling.then(async () => void samples.push(await sampleMemory(options.url, at)));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  await sampling;
  samples.push(await sampleMemory(options.url, done));
  const afterWarmup = samples.filter((s) => s.requests >= done * options.warmupFraction);
  const slopeKiBPer1000 = slope(afterWarmup.map((s) => ({ x: s.requests / 1000, y: s.anonSwapKiB })));
  const serverErrors = Object.entries(byStatus).filter(([status]) => /^5\d\d$/.test(status)).reduce((s, [, n]) => s + n, 0);
  const pass = Object.keys(unexpected).length === 0 && serverErrors === 0 && slopeKiBPer1000 <= options.maxSlopeKiBPer1000;
  return {
    event: 'soak',
    pass,
    requests: done,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    requestsPerS: Math.round((done / ((Date.now() - started) / 1000)) * 10) / 10,
    concurrency: options.concurrency,
    byStatus,
    unexpected,
    serverErrors,
    memory: {
      samples: afterWarmup.length,
      warmupRequests: Math.round(done * options.warmupFraction),
      slopeKiBPer1000: Math.round(slopeKiBPer1000 * 100) / 100,
      maxSlopeKiBPer1000: options.maxSlopeKiBPer1000,
      anonSwapMiB: { start: mib(afterWarmup[0]?.anonSwapKiB), end: mib(samples[samples.length - 1].anonSwapKiB) },
      rssMiB: { start: mib(afterWarmup[0]?.rssKiB), end: mib(samples[samples.length - 1].rssKiB) },
    },
  };
}

const mib = (kib = 0) => Math.round((kib / 1024) * 10) / 10;
