// Fuzz: the generated requests of the property tests (test/support/fuzz-requests.ts), in bulk, at
// a live Duet server over HTTP.
// npm run fuzz -- [--requests 100000] [--concurrency 8] [--burst 1000] [--seed N]
// Starts dist/main.js on the tiny fixture model on a free loopback port, sends the requests in
// bursts and probes /health/live after each. Prints one JSON line: requests, statuses (count by
// status), largest response bytes, slowest response ms, slowest /health/live, the server's RSS
// before and after. Exits 1 when a response broke a property (a 5xx, an error outside its route's
// shape or over 16 KiB, /health/live slow or down) or the server logged an unhandled error.
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readProcessMemory } from '../src/runtime/process-memory.js';
import { wholeNumber } from './lib/cli-options.js';
import { anyRequest, FuzzRequest, responseProblem } from '../test/support/fuzz-requests.js';
import { sendRequest } from '../test/support/http-request.js';
import { startServerProcess } from '../test/support/server-process.js';

const TINY_MODEL = 'test/fixtures/models/tiny.gguf';
/** /health/live after a burst; the process should answer it at once. */
const MAX_LIVE_MS = 1000;
/** Problems printed (to stderr) in full; the rest are counted. */
const PROBLEMS_SHOWN = 10;
const MIB = 1024 * 1024;

const describeRequest = (request: FuzzRequest) =>
  `${request.method} ${request.url.slice(0, 200)} ${JSON.stringify(request.headers)} ${request.payload?.slice(0, 300) ?? ''}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '8' },
      burst: { type: 'string', default: '1000' },
      seed: { type: 'string' },
    },
  });
  const total = wholeNumber('requests', values.requests!);
  const concurrency = wholeNumber('concurrency', values.concurrency!);
  const burst = wholeNumber('burst', values.burst!);
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : wholeNumber('seed', values.seed, 0);
  if (!existsSync(TINY_MODEL)) throw new Error(`${TINY_MODEL} is missing: npm run fixtures makes it`);

  // Two tokens per reply keep the valid chat requests cheap, as in the property tests.
  const server = await startServerProcess(TINY_MODEL, {
    LOG_LEVEL: 'warn',
    CHAT_MAX_TOKENS: '2',
    STRUCTURED_MAX_TOKENS: '2',
    MEMORY_SNAPSHOT_INTERVAL_S: '0',
  });
  const rssMiB = () => Math.round((readProcessMemory(`/proc/${server.child.pid}/status`).rssBytes / MIB) * 10) / 10;
  try {
    const rssBeforeMiB = rssMiB();
    const started = performance.now();
    const statuses: Record<string, number> = {};
    const problems: string[] = [];
    let problemCount = 0;
    const problem = (text: string) => {
      problemCount++;
      if (problems.length < PROBLEMS_SHOWN) problems.push(text);
    };
    let largestResponseBytes = 0;
    let slowestResponseMs = 0;
    let slowestLiveMs = 0;
    let sent = 0;

    for (let burstIndex = 0; sent < total; burstIndex++) {
      // One seed per burst: the whole run is reproducible from --seed, without holding 100,000 requests.
      const requests = fc.sample(anyRequest, { numRuns: Math.min(burst, total - sent), seed: seed + burstIndex });
      let next = 0;
      const client = async () => {
        for (let request = requests[next++]; request; request = requests[next++]) {
          const response = await sendRequest(server.url, request).catch((error: Error) => error);
          if (response instanceof Error) {
            statuses.failed = (statuses.failed ?? 0) + 1;
            problem(`${response.message}: ${describeRequest(request)}`);
            continue;
          }
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          largestResponseBytes = Math.max(largestResponseBytes, response.body.length);
          slowestResponseMs = Math.max(slowestResponseMs, response.ms);
          const broken = responseProblem(request, response);
          if (broken) problem(`${broken}: ${describeRequest(request)}`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, client));
      sent += requests.length;
      const live = await sendRequest(server.url, { method: 'GET', url: '/health/live', headers: {} });
      slowestLiveMs = Math.max(slowestLiveMs, live.ms);
      if (live.status !== 200 || live.ms > MAX_LIVE_MS)
        problem(`/health/live answered ${live.status} in ${Math.round(live.ms)} ms after ${sent} requests`);
    }

    const unhandledErrors = server.stdout.filter((line) => line.includes('"unhandled_error"'));
    for (const line of unhandledErrors) problem(`server: ${line.slice(0, 500)}`);
    console.log(
      JSON.stringify({
        requests: sent,
        statuses,
        largestResponseBytes,
        slowestResponseMs: Math.round(slowestResponseMs),
        slowestLiveMs: Math.round(slowestLiveMs),
        rssBeforeMiB,
        rssAfterMiB: rssMiB(),
        problems: problemCount,
        unhandledErrors: unhandledErrors.length,
        seed,
        concurrency,
        seconds: Math.round((performance.now() - started) / 1000),
      }),
    );
    problems.forEach((text) => console.error(text));
    process.exitCode = problemCount === 0 ? 0 : 1;
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

void main().catch((error: Error) => {
  console.error(`fuzz: ${error.message}`);
  process.exit(2);
});
