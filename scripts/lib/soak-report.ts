// The soak's report as one self-contained HTML file: uPlot's script and style, the charts' own
// script and the run's data inlined, so it opens offline and can be attached to an issue.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SoakReport } from './soak.js';

/** Line colours, also what a test looks for in the drawn canvas. */
export const SOAK_REPORT_COLORS = {
  anonSwap: '#1f6fd1',
  rss: '#2a9d3a',
  heap: '#e07b00',
  floor: '#7b3fb8',
  fit: '#d62728',
  interval: '#f08a8b',
} as const;

const require = createRequire(import.meta.url);
const asset = (path: string) => readFileSync(path, 'utf8');

/** Text for HTML element content and attribute values. */
const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON inside a <script> element: no `</script>` or `<!--` can end it early. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

const kib = (value: number) =>
  `${value >= 0 ? '+' : '−'}${Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })}`;
const hours = (seconds: number) =>
  seconds >= 5400 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.round(seconds / 60)} min`;

/** One sentence per verdict: what the interval says against the limit, and what would decide it. */
function verdictText({ verdict, memory, serverErrors, unexpected }: SoakReport): string {
  const [low, high] = memory.slopeInterval95KiB;
  const fit =
    `anonymous + swap memory after warm-up changes by ${kib(memory.slopeKiBPer1000)} ± ${kib(memory.slopeStandardErrorKiB).slice(1)} KiB ` +
    `per 1,000 requests (95% interval ${kib(low)} to ${kib(high)}) against a limit of ${memory.maxSlopeKiBPer1000.toLocaleString('en-US')} KiB`;
  const unexpectedCount = Object.values(unexpected).reduce((s, n) => s + n, 0);
  if (verdict === 'fail' && (serverErrors > 0 || unexpectedCount > 0))
    return `Fail: ${serverErrors} server errors and ${unexpectedCount} unexpected statuses; ${fit}.`;
  if (verdict === 'pass') return `Pass: ${fit}; the whole interval is under the limit.`;
  if (verdict === 'fail') return `Fail: ${fit}; the whole interval is over the limit.`;
  const toDecide = memory.toDecide
    ? ` A run of about ${memory.toDecide.requests.toLocaleString('en-US')} requests ` +
      `(${hours(memory.toDecide.durationS)} at this rate) would decide it, if slope and scatter stay as measured.`
    : '';
  if (memory.samples < memory.minSamples)
    return `Inconclusive: ${memory.samples} readings after warm-up, ${memory.minSamples} needed to fit a slope.${toDecide}`;
  return `Inconclusive: ${fit}; the interval holds the limit, so this run is too short to tell.${toDecide}`;
}

const table = (rows: Array<[string, unknown]>) =>
  `<table>${rows
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(String(value))}</td></tr>`)
    .join('')}</table>`;

/**
 * The report: verdict, the two charts (memory against requests served; the fit after warm-up with
 * its interval), the run's parameters and statuses, and the printed line itself.
 */
export function soakReportHtml(report: SoakReport, parameters: Record<string, string | number | undefined>): string {
  const { chart, ...line } = report;
  const uPlotDir = dirname(require.resolve('uplot/package.json'));
  const data = { ...chart, colors: SOAK_REPORT_COLORS };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Duet soak report: ${report.verdict}</title>
<style>${asset(join(uPlotDir, 'dist/uPlot.min.css'))}</style>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 16px; color: #1b1b1b; }
  h1 { font-size: 20px; margin: 0 0 8px; }
  .verdict { padding: 10px 14px; border-radius: 6px; margin: 8px 0 16px; max-width: 928px; }
  .verdict[data-verdict="pass"] { background: #e3f4e5; border-left: 6px solid #2a9d3a; }
  .verdict[data-verdict="fail"] { background: #fbe4e4; border-left: 6px solid #d62728; }
  .verdict[data-verdict="inconclusive"] { background: #fdf3dc; border-left: 6px solid #e0a000; }
  .chart { margin: 8px 0 20px; }
  .tables { display: flex; gap: 32px; flex-wrap: wrap; }
  table { border-collapse: collapse; }
  th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
  th { font-weight: 600; }
  pre { white-space: pre-wrap; word-break: break-all; background: #f4f4f4; padding: 8px; max-width: 928px; }
</style>
</head>
<body>
<h1>Duet soak report</h1>
<p class="verdict" data-verdict="${report.verdict}"><strong>${report.verdict}</strong> — ${escapeHtml(verdictText(report))}</p>
<div id="memory-chart" class="chart"></div>
<div id="fit-chart" class="chart"></div>
<p>Shaded: warm-up (the first ${Math.round(chart.warmupRequests).toLocaleString('en-US')} requests), left out of the fit.
The slope is fitted to the floor: the lowest reading of each tenth of the readings after warm-up.</p>
<div class="tables">
<div><h2>Run</h2>${table(Object.entries(parameters))}</div>
<div><h2>Statuses</h2>${table(Object.entries(report.byStatus))}</div>
</div>
<h2>The line <code>npm run soak</code> printed</h2>
<pre>${escapeHtml(JSON.stringify(line))}</pre>
<script>${asset(join(uPlotDir, 'dist/uPlot.iife.min.js'))}</script>
<script>const SOAK = ${scriptJson(data)};</script>
<script>${asset(join(import.meta.dirname, 'soak-report.client.js'))}</script>
</body>
</html>
`;
}

export function writeSoakReport(
  path: string,
  report: SoakReport,
  parameters: Record<string, string | number | undefined>,
): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, soakReportHtml(report, parameters));
}
