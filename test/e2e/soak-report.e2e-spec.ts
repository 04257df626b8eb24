import chromiumBinary from '@sparticuz/chromium';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { SOAK_REPORT_COLORS } from '../../scripts/lib/soak-report.js';

/** Where the rendered report's screenshot is kept for a person to look at (gitignored). */
const ARTIFACTS = 'test-artifacts';

/** `npm run soak` itself (tsx scripts/soak.ts, which starts dist/main.js on the tiny fixture). */
function soak(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/soak.ts', ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Pixels of each colour in a canvas, within a small distance (anti-aliasing blends the edges). */
function countColours(canvas: { data: number[] }, colours: Record<string, string>): Record<string, number> {
  const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return Object.fromEntries(
    Object.entries(colours).map(([name, hex]) => {
      const [r, g, b] = rgb(hex);
      let count = 0;
      for (let i = 0; i < canvas.data.length; i += 4) {
        const [dr, dg, db] = [canvas.data[i] - r, canvas.data[i + 1] - g, canvas.data[i + 2] - b];
        if (canvas.data[i + 3] > 200 && dr * dr + dg * dg + db * db < 30 * 30) count++;
      }
      return [name, count];
    }),
  );
}

describe('the soak report (npm run soak on the tiny model)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-soak-report-'));

  it('exits 3 with "inconclusive" when too short to fit, saying how long would do', async () => {
    const run = await soak(['--requests', '8', '--report', join(dir, 'short.html')]);
    expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({
      status: 3,
      stderr: `soak: report written to ${join(dir, 'short.html')}`,
    });
    const line = JSON.parse(run.stdout) as { verdict: string; memory: { toDecide: { requests: number } } };
    expect(line.verdict).toBe('inconclusive');
    expect(line.memory.toDecide.requests).toBe(1250); // 10 readings of every 100 requests after a 20% warm-up
    expect(readFileSync(join(dir, 'short.html'), 'utf8')).toMatch(/Inconclusive: 1 readings after warm-up, 10 needed/);
  }, 300_000);

  it('exits 0 on a pass and writes a self-contained report whose charts headless Chromium draws', async () => {
    const path = join(dir, 'report.html');
    // A limit no run on this machine reaches: the verdict is a pass whatever the slope. Two clients
    // keep batches clear of REQUEST_TIMEOUT_MS on a loaded machine.
    const run = await soak([
      ...['--requests', '120', '--sample-every', '6', '--concurrency', '2'],
      ...['--max-slope-kib', '1e9', '--report', path],
    ]);
    const line = JSON.parse(run.stdout) as Record<string, unknown>;
    expect({
      status: run.status,
      stderr: run.stderr.trim(),
      verdict: line.verdict,
      unexpected: line.unexpected,
      serverErrors: line.serverErrors,
    }).toEqual({
      status: 0,
      stderr: `soak: report written to ${path}`,
      verdict: 'pass',
      unexpected: {},
      serverErrors: 0,
    });
    expect(line).toMatchObject({ pass: true, requests: 120 });
    expect(line.chart).toBeUndefined(); // the charts' data goes to the report, not the printed line
    const html = readFileSync(path, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing to fetch: it opens offline

    const browser = await chromium.launch({
      executablePath: await chromiumBinary.executablePath(),
      args: [...chromiumBinary.args, '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    try {
      // uPlot formats numbers in navigator.language, which this Chromium leaves unset without a locale.
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, locale: 'en-US' });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      await page.goto(`file://${path}`);
      await page.locator('body[data-drawn="true"]').waitFor({ timeout: 10_000 });
      expect(errors).toEqual([]);
      expect(requested).toEqual([`file://${path}`]);
      expect(await page.locator('.verdict').getAttribute('data-verdict')).toBe('pass');
      expect(await page.locator('.verdict').textContent()).toMatch(/^pass — Pass: anonymous \+ swap memory/);

      // Each chart's canvas holds its lines: pixels of every series' colour.
      const canvases: { data: number[] }[] = await page.evaluate(() =>
        (globalThis as any).soakCharts.map(({ ctx }: any) => ({
          data: Array.from(ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height).data),
        })),
      );
      const { anonSwap, rss, heap, floor, fit, interval } = SOAK_REPORT_COLORS;
      const memory = countColours(canvases[0], { anonSwap, rss, heap });
      const fitted = countColours(canvases[1], { anonSwap, floor, fit, interval });
      for (const [name, pixels] of Object.entries({ ...prefix('memory', memory), ...prefix('fit', fitted) }))
        expect([name, pixels > 20]).toEqual([name, true]);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'soak-report.png'), fullPage: true });
      expect(existsSync(join(ARTIFACTS, 'soak-report.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 300_000);
});

const prefix = (chart: string, counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).map(([name, count]) => [`${chart}.${name}`, count]));
