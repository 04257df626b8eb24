import chromiumBinary from '@sparticuz/chromium';
import { Browser, chromium } from 'playwright-core';
import { ServerProcess, startServerProcess } from '../scripts/lib/server-process.js';
import { TINY_MODEL } from './support/test-app.js';

describe('demo chat widget in headless Chromium', () => {
  let server: ServerProcess;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServerProcess(TINY_MODEL, { CHAT_MAX_TOKENS: '48', CHAT_MAX_CHARS: '200' });
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
    expect(await page.title()).toBe('Duet chat demo');
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
});
