import chromiumBinary from '@sparticuz/chromium';
import { Browser, chromium } from 'playwright-core';
import { ServerProcess, startServerProcess } from '../support/server-process.js';
import { join } from 'node:path';
import { TINY_MODEL } from '../support/test-app.js';

describe('demo chat widget in headless Chromium', () => {
  let server: ServerProcess;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServerProcess(TINY_MODEL, {
      CHAT_MAX_TOKENS: '48',
      CHAT_MAX_CHARS: '200',
      TASKS_FILE: join(import.meta.dirname, '..', 'fixtures', 'tasks', 'triage.yaml'),
    });
    // Chromium from the @sparticuz/chromium npm package (unpacked to /tmp on first use): no system
    // browser is needed, so `npm install && npm test` is the whole set-up.
    browser = await chromium.launch({
      executablePath: await chromiumBinary.executablePath(),
      args: [...chromiumBinary.args, '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('types a message and shows a reply streamed in several pieces, then keeps the conversation', async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url + '/');
    expect(await page.title()).toBe('Duet demo');
    await page.fill('#message', 'Hello! Do you ship to Canada?');
    await page.click('#send');
    const reply = page.locator('.bubble.assistant').first();
    await reply.locator('xpath=self::*[@data-state="done"]').waitFor({ timeout: 30000 });
    expect(Number(await reply.getAttribute('data-deltas'))).toBeGreaterThan(1);
    expect((await reply.textContent())!.length).toBeGreaterThan(0);
    expect(await page.locator('.bubble.user').textContent()).toBe('Hello! Do you ship to Canada?');

    await page.fill('#message', 'And to Mexico?');
    await page.click('#send');
    await page
      .locator('.bubble.assistant')
      .nth(1)
      .locator('xpath=self::*[@data-state="done"]')
      .waitFor({ timeout: 30000 });
    expect(await page.locator('.bubble').count()).toBe(4);
    expect(pageErrors).toEqual([]);
  });

  it('triages a pasted ticket: every classify task with its label and a bar per score', async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    await page.click('#tab-triage');
    expect(await page.isHidden('#log')).toBe(true);
    const ticket = 'My card was charged twice and the app crashes when I open the invoice.';
    await page.fill('#ticket', ticket);
    await page.click('#triage');
    await page.locator('#triage-results[data-state="done"]').waitFor({ timeout: 30000 });
    const expected = (await (
      await fetch(server.url + '/v1/triage', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: ticket }),
      })
    ).json()) as { results: Record<string, { label: string; scores: Record<string, number> }> };
    const shown = await page.locator('.task').evaluateAll((sections) =>
      sections.map((section) => ({
        task: section.getAttribute('data-task'),
        label: section.querySelector('.label')!.textContent,
        bars: [...section.querySelectorAll('.score')].map((row) => [
          row.getAttribute('data-label'),
          Number.parseFloat(/width:\s*([\d.]+)%/.exec(row.querySelector('.bar')!.getAttribute('style')!)![1]),
        ]),
      })),
    );
    expect(shown.map((s) => s.task)).toEqual(['sentiment', 'urgency', 'department']);
    for (const { task, label, bars } of shown) {
      expect(label).toBe(expected.results[task!].label);
      expect(bars.map(([name]) => name)).toEqual(Object.keys(expected.results[task!].scores));
      for (const [name, width] of bars)
        expect(width).toBeCloseTo(expected.results[task!].scores[name as string] * 100, 1);
    }
  });
});
