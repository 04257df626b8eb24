import { setTimeout as sleep } from 'node:timers/promises';
import { loadSoakTexts, shortenTexts, soakRequest, SoakRequest, SoakShape } from './soak-traffic.js';
import { runLength, slopeVerdict, Verdict } from './soak-verdict.js';

export interface SoakOptions extends SoakShape {
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
  texts?: readonly string[];
  /** Cut every text to this many characters (see shortenTexts). */
  textChars?: number;
  /** Gets each idle reading whole (V8 heap, external, ...): tells which part of a rise is whose. */
  onSample?: (snapshot: MemorySnapshot & { requests: number }) => void;
}

/** The slope is fitted to the floor of each tenth of the samples after warm-up. */
const FLOOR_WINDOWS = 10;

interface MemorySample {
  requests: number;
  anonSwapKiB: number;
  rssKiB: number;
  heapUsedKiB: number;
  busySequences: number;
}

/** Least-squares slope of y over x, and its standard error (what a flat series' slope scatters by). */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): { slope: number; standardError: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, standardError: 0 };
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  const covariance = points.reduce((s, p) => s + (p.x - meanX) * (p.y - meanY), 0);
  const variance = points.reduce((s, p) => s + (p.x - meanX) ** 2, 0);
  if (variance === 0) return { slope: 0, standardError: 0 };
  const fitted = covariance / variance;
  const residuals = points.reduce((s, p) => s + (p.y - meanY - fitted * (p.x - meanX)) ** 2, 0);
  return { slope: fitted, standardError: n > 2 ? Math.sqrt(residuals / (n - 2) / variance) : 0 };
}

/**
 * The floor memory returns to between requests: the lowest point of each of `windows` runs of
 * consecutive samples. Leaked memory raises the floor; memory freed but kept by the allocator
 * (measured: +5 to +37 MiB in about one idle sample in four, gone by the next) only adds spikes above it.
 */
export function floorOf<T extends { y: number }>(points: readonly T[], windows: number): T[] {
  const size = Math.max(1, Math.ceil(points.length / windows));
  const floors: T[] = [];
  for (let start = 0; start < points.length; start += size) {
    floors.push(points.slice(start, start + size).reduce((low, point) => (point.y < low.y ? point : low)));
  }
  return floors;
}

async function send(url: string, request: SoakRequest): Promise<number | 'aborted'> {
  const controller = new AbortController();
  const timer =
    request.abortAfterMs === undefined ? undefined : setTimeout(() => controller.abort(), request.abortAfterMs);
  try {
    const response = await fetch(url + request.path, {
      method: 'POST',
      body: request.body,
      headers: { 'content-type': request.contentType },
      signal: controller.signal,
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

/** The fields of GET /health/memory this file reads; the reply has more (V8 heap, external, ...). */
export interface MemorySnapshot {
  rssAnonBytes: number;
  swapBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  activeSequences: number;
  queueLength: number;
  [field: string]: unknown;
}

const readMemory = async (url: string, gc: boolean) =>
  (await (await fetch(`${url}/health/memory${gc ? '?gc=true' : ''}`)).json()) as MemorySnapshot;

/**
 * The server's own figures (GET /health/memory) once it is idle, after a full GC when the server
 * exposes one. Idle, because memory read in the middle of requests carries their buffers: the
 * scatter then hides any slope under a few hundred KiB per 1,000 requests.
 */
async function sampleIdleMemory(
  { url, onSample }: Pick<SoakOptions, 'url' | 'onSample'>,
  requests: number,
): Promise<MemorySample> {
  for (let waited = 0; waited < 30_000; waited += 20) {
    const { activeSequences, queueLength } = await readMemory(url, false);
    if (activeSequences === 0 && queueLength === 0) break; // an aborted request may still hold one briefly
    await sleep(20);
  }
  const snapshot = await readMemory(url, true);
  onSample?.({ ...snapshot, requests });
  return {
    requests,
    anonSwapKiB: (snapshot.rssAnonBytes + snapshot.swapBytes) / 1024,
    rssKiB: snapshot.rssBytes / 1024,
    heapUsedKiB: snapshot.heapUsedBytes / 1024,
    busySequences: snapshot.activeSequences,
  };
}

/**
 * Drives the fixed traffic mix at a live server with `concurrency` clients, samples its memory,
 * and fits the slope of RssAnon + VmSwap after warm-up (its floor, see floorOf), in KiB per 1,000 requests.
 */
export async function runSoak(options: SoakOptions) {
  const allTexts = options.texts ?? loadSoakTexts();
  const texts = options.textChars ? shortenTexts(allTexts, options.textChars) : allTexts;
  const started = Date.now();
  const byStatus: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  const samples: MemorySample[] = [await sampleIdleMemory(options, 0)];
  let issued = 0;
  let done = 0;
  let inFlight = 0;
  // Every sampleEvery requests the clients stop issuing, the requests in flight finish, memory is read.
  let paused: Promise<void> | undefined;
  const pauseAndSample = (at: number) => {
    const sampled: Promise<void> = (paused ?? Promise.resolve())
      .then(async () => {
        while (inFlight > 0) await sleep(5);
        samples.push(await sampleIdleMemory(options, at));
      })
      .finally(() => {
        if (paused === sampled) paused = undefined;
      });
    paused = sampled;
  };
  const client = async () => {
    for (;;) {
      while (paused) await paused;
      if (issued >= options.maxRequests || Date.now() - started >= options.durationMs) return;
      const request = soakRequest(issued++, texts, options);
      inFlight++;
      const status = await send(options.url, request).catch((error: Error) => `failed:${error.message}`);
      inFlight--;
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status !== 'aborted' && !request.expect.includes(status as number))
        unexpected[`${request.kind}:${status}`] = (unexpected[`${request.kind}:${status}`] ?? 0) + 1;
      if (++done % options.sampleEvery === 0) pauseAndSample(done);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  await paused;
  samples.push(await sampleIdleMemory(options, done));
  const afterWarmup = samples.filter((s) => s.requests >= done * options.warmupFraction);
  const points = afterWarmup.map((s) => ({ x: s.requests / 1000, y: s.anonSwapKiB, requests: s.requests }));
  const floor = floorOf(points, FLOOR_WINDOWS);
  const fit = slope(floor);
  const slopeKiBPer1000 = fit.slope;
  const serverErrors = Object.entries(byStatus)
    .filter(([status]) => /^5\d\d$/.test(status))
    .reduce((s, [, n]) => s + n, 0);
  const requestsPerS = done / ((Date.now() - started) / 1000);
  const memoryVerdict = slopeVerdict({
    ...fit,
    points: floor.length,
    limit: options.maxSlopeKiBPer1000,
    requests: done,
    requestsPerS,
  });
  // Fewer readings than floor windows fit a slope to next to nothing (none at all: slope 0): no
  // verdict yet, and the run it would take is the one that gives one reading per window.
  if (afterWarmup.length < FLOOR_WINDOWS) {
    memoryVerdict.verdict = 'inconclusive';
    const enough = Math.ceil((FLOOR_WINDOWS * options.sampleEvery) / (1 - options.warmupFraction));
    memoryVerdict.toDecide = runLength(enough, { requestsPerS });
  }
  const verdict: Verdict = Object.keys(unexpected).length > 0 || serverErrors > 0 ? 'fail' : memoryVerdict.verdict;
  return {
    event: 'soak',
    verdict,
    pass: verdict === 'pass',
    requests: done,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    requestsPerS: Math.round(requestsPerS * 10) / 10,
    concurrency: options.concurrency,
    textChars: options.textChars,
    chatMaxChars: options.chatMaxChars,
    byStatus,
    unexpected,
    serverErrors,
    memory: {
      samples: afterWarmup.length,
      minSamples: FLOOR_WINDOWS,
      warmupRequests: Math.round(done * options.warmupFraction),
      slopeKiBPer1000: Math.round(slopeKiBPer1000 * 100) / 100,
      slopeStandardErrorKiB: Math.round(fit.standardError * 100) / 100,
      slopeInterval95KiB: memoryVerdict.interval.map((end) => Math.round(end * 100) / 100),
      verdict: memoryVerdict.verdict,
      toDecide: memoryVerdict.toDecide,
      allSamplesSlopeKiBPer1000: Math.round(slope(points).slope * 100) / 100,
      busySequencesAtSamples: Math.max(...samples.map((s) => s.busySequences)),
      maxSlopeKiBPer1000: options.maxSlopeKiBPer1000,
      anonSwapMiB: { start: mib(afterWarmup[0]?.anonSwapKiB), end: mib(samples[samples.length - 1].anonSwapKiB) },
      rssMiB: { start: mib(afterWarmup[0]?.rssKiB), end: mib(samples[samples.length - 1].rssKiB) },
    },
    /** What the report's charts draw (left out of the printed line). */
    chart: {
      warmupRequests: done * options.warmupFraction,
      readings: samples.map((s) => ({
        requests: s.requests,
        anonSwapMiB: s.anonSwapKiB / 1024,
        rssMiB: s.rssKiB / 1024,
        heapUsedMiB: s.heapUsedKiB / 1024,
      })),
      floor: floor.map((p) => ({ requests: p.requests, anonSwapMiB: p.y / 1024 })),
      // The fitted line passes through the floor's centroid; so do the interval's two slopes.
      fit: {
        slope: fit.slope,
        interval: memoryVerdict.interval,
        centroid: {
          requests: (mean(floor.map((p) => p.x)) ?? 0) * 1000,
          anonSwapMiB: (mean(floor.map((p) => p.y)) ?? 0) / 1024,
        },
      },
    },
  };
}

export type SoakReport = Awaited<ReturnType<typeof runSoak>>;

const mean = (values: number[]) => (values.length ? values.reduce((s, v) => s + v, 0) / values.length : undefined);

const mib = (kib = 0) => Math.round((kib / 1024) * 10) / 10;
