import t from 'tap';
import { launchBrowser, openPage } from './helpers/browser.js';
import { startFilledFleet } from './helpers/fleet-filled.js';

// The fleet page at 10,000 vehicles (Debian's Chromium, the real store and endpoints): the first
// view's time and the JS heap, one page of rows in the DOM, and live values still once a second
// while every vehicle sends. The machine running tests is shared, so the bounds are generous;
// `make bench-fleet-page` measures the figures (bench/README.md).
const N = 10_000;

t.test('10,000 vehicles: first view, heap, one page of rows, live updates each second', async (t) => {
  const fleet = await startFilledFleet(N);
  t.teardown(() => fleet.close());
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser, fleet.url, { width: 1280, height: 800 });
  await page.waitForFunction(() => performance.getEntriesByName('fleet-first-view').length > 0, null, { timeout: 60_000 });
  const firstView = await page.evaluate(() => performance.getEntriesByName('fleet-first-view')[0].startTime);
  t.comment(`first view (navigation start to the table drawn from the server's data): ${Math.round(firstView)} ms`);
  // Generous: on a shared 2-core machine with a load average near 30 this measured 2.5-6 s; the
  // server's first full event (10,000 rows, ~2.2 MB) is built in this process too.
  t.ok(firstView < 15_000, `first view under 15 s on this shared machine (${Math.round(firstView)} ms)`);
  t.equal(await page.locator('#range-text').textContent(), '1–50 of 10,000', 'all 10,000 in the view');
  t.equal(await page.locator('#vehicles tbody tr').count(), 50, 'one page of rows in the DOM, not 10,000');

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  t.comment(`JS heap after a collection: ${(heap.usedSize / 1e6).toFixed(1)} MB used of ${(heap.totalSize / 1e6).toFixed(1)} MB`);
  t.ok(heap.usedSize < 300e6, `JS heap under 300 MB (${(heap.usedSize / 1e6).toFixed(1)} MB)`);

  // Every vehicle sends a frame each second; one on screen also changes its speed. The page must
  // show each new speed: the server's tick is 1 s, so about 1 s after the change.
  const all = fleet.specs.map((s) => s.vin);
  const watched = await page.$eval('#vehicles tbody tr', (tr) => (tr as HTMLElement).dataset.vin!);
  const latencies: number[] = [];
  for (let k = 1; k <= 6; k++) {
    const speed = 100 + k;
    const from = Date.now();
    fleet.touch(all);
    fleet.drive([watched], () => speed);
    await page.waitForFunction(
      ([vin, want]) => document.querySelector(`#vehicles tr[data-vin="${vin}"] td[data-key="speed"]`)?.textContent === want,
      [watched, String(speed)] as const,
      { timeout: 15_000 },
    );
    latencies.push(Date.now() - from);
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - from))));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const times = await page.$eval('#vehicles', (e) => ({ apply: (e as HTMLElement).dataset.applyMs, render: (e as HTMLElement).dataset.renderMs }));
  t.comment(
    `change to screen with all ${N} sending: ${latencies.join(', ')} ms (median ${sorted[3]}); last event applied in ${times.apply} ms, rendered in ${times.render} ms`,
  );
  // Generous: the server here shares this process and a loaded machine with the browser.
  t.ok(sorted[3] < 10_000, `each new value on screen within seconds (median ${sorted[3]} ms)`);
  t.equal(await page.locator('#vehicles tbody tr').count(), 50, 'still one page of rows');
  t.same(problems, [], 'no console errors, uncaught errors or failed requests');
  await page.close();
});
