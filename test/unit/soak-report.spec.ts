import { readFileSync } from 'node:fs';
import type { SoakReport } from '../../scripts/lib/soak.js';
import { soakReportHtml } from '../../scripts/lib/soak-report.js';
import { slopeVerdict } from '../../scripts/lib/soak-verdict.js';

/** The 40-minute 0.5B run of the issue: +76.4 ± 301.8 KiB per 1,000 over 4,850 requests at 2/s. */
function report(overrides: Partial<SoakReport> = {}): SoakReport {
  const verdict = slopeVerdict({
    slope: 76.4,
    standardError: 301.8,
    points: 10,
    limit: 1,
    requests: 4850,
    requestsPerS: 2,
  });
  const readings = [0, 1000, 2000, 3000, 4000, 4850].map((requests) => ({
    requests,
    anonSwapMiB: 640,
    rssMiB: 1100,
    heapUsedMiB: 31,
  }));
  return {
    event: 'soak',
    verdict: 'inconclusive',
    pass: false,
    requests: 4850,
    durationS: 2425,
    requestsPerS: 2,
    concurrency: 4,
    textChars: undefined,
    chatMaxChars: undefined,
    byStatus: { '200': 3395, '400': 727 },
    unexpected: {},
    serverErrors: 0,
    memory: {
      samples: 39,
      minSamples: 10,
      warmupRequests: 970,
      slopeKiBPer1000: 76.4,
      slopeStandardErrorKiB: 301.8,
      slopeInterval95KiB: verdict.interval,
      verdict: verdict.verdict,
      toDecide: verdict.toDecide,
      allSamplesSlopeKiBPer1000: 80,
      busySequencesAtSamples: 0,
      maxSlopeKiBPer1000: 1,
      anonSwapMiB: { start: 640, end: 640 },
      rssMiB: { start: 1100, end: 1100 },
    },
    chart: {
      warmupRequests: 970,
      readings,
      floor: readings.slice(2).map((r) => ({ requests: r.requests, anonSwapMiB: r.anonSwapMiB })),
      fit: { slope: 76.4, interval: verdict.interval, centroid: { requests: 3500, anonSwapMiB: 640 } },
    },
    ...overrides,
  };
}

const verdictLine = (html: string) => /<p class="verdict"[^>]*>(.*?)<\/p>/.exec(html)![1];

describe('the soak report', () => {
  it('says an interval that holds the limit is inconclusive, and how long a run would decide it', () => {
    expect(verdictLine(soakReportHtml(report(), {}))).toBe(
      '<strong>inconclusive</strong> — Inconclusive: anonymous + swap memory after warm-up changes by +76.4 ± 301.8 KiB ' +
        'per 1,000 requests (95% interval −619.6 to +772.4) against a limit of 1 KiB; the interval holds the limit, ' +
        'so this run is too short to tell. A run of about 44,767 requests (6.2 h at this rate) would decide it, ' +
        'if slope and scatter stay as measured.',
    );
  });

  it('puts server errors first in a failed run', () => {
    const failed = report({ verdict: 'fail', serverErrors: 2, unexpected: { 'batch:504': 2 } });
    expect(verdictLine(soakReportHtml(failed, {}))).toMatch(
      /^<strong>fail<\/strong> — Fail: 2 server errors and 2 unexpected statuses; /,
    );
  });

  it('inlines uPlot, its style and the data, and escapes what the run was given', () => {
    const html = soakReportHtml(report(), { model: '<models>/a&b.gguf' });
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(html).toContain('<td>&lt;models&gt;/a&amp;b.gguf</td>');
    expect(html).toContain(readFileSync('node_modules/uplot/dist/uPlot.iife.min.js', 'utf8'));
    expect(html).toContain('"warmupRequests":970');
    // A status that looks like markup stays text: three script elements, no more.
    const tricky = report({ byStatus: { '</script><script>alert(1)</script>': 1 } });
    const scripts = soakReportHtml(tricky, {}).match(/<script>/g)!.length;
    expect(scripts).toBe(3); // uPlot, the data, the charts
  });
});
