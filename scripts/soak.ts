// Soak test: mixed traffic at a live Duet server on loopback, with its memory slope.
// npm run soak -- [--duration 30m] [--concurrency 4] [--requests N] [--max-slope-kib 1] [--trace]
//                 [--url http://127.0.0.1:8080 | --model path.gguf [--node-options="--no-opt --no-maglev"]]
//                 [--warmup 0.2] [--sample-every 100] [--text-chars N] [--chat-max-chars N]
//                 [--report .bench/soak-<time>.html]
// Without --url it starts dist/main.js on a free loopback port (with --expose-gc, so memory is
// sampled after a full GC, and any --node-options) on --model (default: the tiny fixture).
// Prints one JSON line with a verdict, and exits by it: 0 pass (the slope's 95% interval lies under
// --max-slope-kib), 1 fail (any unexpected status, any 5xx, or the whole interval over the limit),
// 3 inconclusive (the interval holds the limit, or too few readings: the line says how many
// requests would decide it); 2 on a malformed option. Also writes a self-contained HTML report
// (--report): memory against requests served, the fitted slope with its interval, the verdict.
import { parseArgs } from 'node:util';
import { duration, fraction, nonNegativeNumber, optionalWholeNumber, wholeNumber } from './lib/cli-options.js';
import { startServerProcess } from '../test/support/server-process.js';
import { runSoak } from './lib/soak.js';
import { writeSoakReport } from './lib/soak-report.js';
import { VERDICT_EXIT_CODES } from './lib/soak-verdict.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '30m' },
      concurrency: { type: 'string', default: '4' },
      requests: { type: 'string', default: String(Number.MAX_SAFE_INTEGER) },
      'max-slope-kib': { type: 'string', default: '1' },
      warmup: { type: 'string', default: '0.2' },
      'sample-every': { type: 'string', default: '100' },
      url: { type: 'string' },
      model: { type: 'string', default: 'test/fixtures/models/tiny.gguf' },
      'max-body-bytes': { type: 'string', default: '1048576' },
      'node-options': { type: 'string', default: '' },
      'text-chars': { type: 'string' },
      'chat-max-chars': { type: 'string' },
      trace: { type: 'boolean', default: false },
      report: { type: 'string', default: `.bench/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.html` },
    },
  });
  if (values.url && values['node-options'])
    throw new Error('--node-options applies to the server the soak starts, not to one at --url');
  // Every option is read before a server starts, so a bad one costs nothing.
  const soakOptions = {
    concurrency: wholeNumber('concurrency', values.concurrency!),
    maxRequests: wholeNumber('requests', values.requests!),
    durationMs: duration('duration', values.duration!),
    warmupFraction: fraction('warmup', values.warmup!),
    sampleEvery: wholeNumber('sample-every', values['sample-every']!),
    maxSlopeKiBPer1000: nonNegativeNumber('max-slope-kib', values['max-slope-kib']!),
    maxBodyBytes: wholeNumber('max-body-bytes', values['max-body-bytes']!),
    textChars: optionalWholeNumber('text-chars', values['text-chars']),
    chatMaxChars: optionalWholeNumber('chat-max-chars', values['chat-max-chars']),
  };
  const server = values.url
    ? undefined
    : await startServerProcess(
        values.model!,
        { MEMORY_SNAPSHOT_INTERVAL_S: '0', LOG_LEVEL: 'warn', MAX_BODY_BYTES: String(soakOptions.maxBodyBytes) },
        ['--expose-gc', ...values['node-options']!.split(' ').filter(Boolean)],
      );
  try {
    const report = await runSoak({
      ...soakOptions,
      url: values.url ?? server!.url,
      onSample: values.trace ? (snapshot) => process.stderr.write(`${JSON.stringify(snapshot)}\n`) : undefined,
    });
    const { chart: _chart, ...line } = report;
    console.log(JSON.stringify({ ...line, model: values.url ? undefined : values.model }));
    writeSoakReport(values.report!, report, {
      model: values.url ? undefined : values.model,
      url: values.url,
      'node options': values['node-options'],
      concurrency: soakOptions.concurrency,
      'requests (at most)': soakOptions.maxRequests === Number.MAX_SAFE_INTEGER ? undefined : soakOptions.maxRequests,
      'duration (at most)': values.duration,
      'requests served': report.requests,
      'duration, s': report.durationS,
      'requests/s': report.requestsPerS,
      'warm-up fraction': soakOptions.warmupFraction,
      'sample every': soakOptions.sampleEvery,
      'max slope, KiB per 1,000': soakOptions.maxSlopeKiBPer1000,
      'text chars': soakOptions.textChars,
      'chat max chars': soakOptions.chatMaxChars,
      finished: new Date().toISOString(),
    });
    process.stderr.write(`soak: report written to ${values.report}\n`);
    process.exitCode = VERDICT_EXIT_CODES[report.verdict];
  } finally {
    server?.child.kill('SIGTERM');
    await server?.exited;
  }
}

void main().catch((error: Error) => {
  console.error(`soak: ${error.message}`);
  process.exit(2);
});
