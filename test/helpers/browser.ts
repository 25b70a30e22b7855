import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { repoRoot } from './server.js';

/** Debian's browser (scripts/test-deps.sh installs it); playwright-core downloads none. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where the tests leave screenshots for a person to look at (git-ignored). */
export const SCREENSHOTS = join(repoRoot(), 'test-output', 'screenshots');

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Headless Chromium with launch's own temporary profile, closed when the test ends. Nothing it
 * does by itself may reach the network: no sync, updates, QUIC or background fetches.
 */
export async function launchBrowser(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

export interface WatchedPage {
  page: Page;
  /** Console errors and warnings, uncaught exceptions, failed requests and HTTP errors, in order. */
  problems: string[];
}

/**
 * A page at the given size that records everything that went wrong on it. An event stream the page
 * closes itself (switching to a vehicle's stream, or the page closing) ends as "aborted", and so
 * does what a document was loading when the test navigated away: neither is a failure.
 */
export async function openPage(browser: Browser, url: string, size: { width: number; height: number }): Promise<WatchedPage> {
  // One locale everywhere, so numbers read the same on every machine ("12,346").
  const page = await browser.newPage({ viewport: size, locale: 'en-US', timezoneId: 'UTC' });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  // Which document a request belongs to: one the test navigated away from aborts what it was
  // still loading (the icon, say), and that is not a failure of the page either.
  let documents = 0;
  const documentOf = new WeakMap<Request, number>();
  page.on('request', (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) documents++;
    documentOf.set(r, documents);
  });
  page.on('requestfailed', (r) => {
    const reason = r.failure()?.errorText ?? '';
    const aborted = reason === 'net::ERR_ABORTED';
    if (aborted && new URL(r.url()).pathname === '/api/events') return;
    if (aborted && (documentOf.get(r) ?? documents) < documents) return;
    problems.push(`request failed: ${r.url()} ${reason}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/** Saves a screenshot (the full page, or what the viewport shows) as test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** Whether the page scrolls sideways (the layout must never make it). */
export function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}
