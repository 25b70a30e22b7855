import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { FlagError, parseFlags, usage } from './lib/args.js';
import { CHROMIUM } from '../test/helpers/browser.js';
import { startFilledFleet } from '../test/helpers/fleet-filled.js';
import { StreamRows } from '../src/ops/fleet/stream-rows.js';

// The fleet page at N vehicles (default 10,000) in Debian's Chromium against the real store and
// endpoints, filled in process (test/helpers/fleet-filled.ts): the first view (navigation start
// to the table drawn from the server's data) and the JS heap over several fresh page loads, then
// live updates while every vehicle sends each second: how long a change takes to reach the
// screen, what the page spends per event, and what the server sends (bench/README.md).

const SPEC = {
  vehicles: { type: 'number', default: 10_000, min: 1, int: true, help: 'vehicles in the store' },
  runs: { type: 'number', default: 5, min: 1, int: true, help: 'fresh page loads measured' },
  seconds: { type: 'number', default: 10, min: 1, int: true, help: 'seconds of live updates, every vehicle sending' },
  json: { type: 'bool', default: false, help: 'one JSON line' },
  screenshots: { type: 'string', default: '', help: 'a folder for the first view at 1280×800 and 375×800 (PNG)' },
} as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[], d = 0) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;

/** Sizes of the stream's events: the first (full) and the next `deltas` ones. */
function eventSizes(port: number, deltas: number, onOpen: () => void): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const sizes: number[] = [];
    const req = request({ host: '127.0.0.1', port, path: '/api/events' }, (res) => {
      let buf = '';
      onOpen();
      res.setEncoding('utf8').on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (ev.startsWith('event: fleet')) sizes.push(Buffer.byteLength(ev));
          if (sizes.length > deltas) {
            req.destroy();
            resolve(sizes);
            return;
          }
        }
      });
    });
    req.on('error', (err) => (sizes.length > deltas ? undefined : reject(err)));
    req.end();
  });
}

async function main(): Promise<void> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), SPEC);
  } catch (err) {
    if (err instanceof FlagError) {
      console.error(`${err.message}\n\n${usage('node build/bench/fleet-page.js', SPEC)}`);
      process.exit(2);
    }
    throw err;
  }
  const n = flags.vehicles!;
  const filling = performance.now();
  const fleet = await startFilledFleet(n);
  const fillMs = performance.now() - filling;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const firstViews: number[] = [];
    const heaps: number[] = [];
    for (let r = 0; r < flags.runs!; r++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
      await page.goto(fleet.url);
      await page.waitForFunction(() => performance.getEntriesByName('fleet-first-view').length > 0, null, { timeout: 60_000 });
      firstViews.push(await page.evaluate(() => performance.getEntriesByName('fleet-first-view')[0].startTime));
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('HeapProfiler.collectGarbage');
      heaps.push((await cdp.send('Runtime.getHeapUsage')).usedSize / 1e6);
      if (r < flags.runs! - 1) await page.close();
    }
    const page = browser.contexts()[0].pages().at(-1)!;
    const rows = await page.locator('#vehicles tbody tr').count();
    if (flags.screenshots) {
      mkdirSync(flags.screenshots, { recursive: true });
      await page.screenshot({ path: join(flags.screenshots, `fleet-${n}-1280x800.png`) });
      const phone = await browser.newPage({ viewport: { width: 375, height: 800 }, locale: 'en-US' });
      await phone.goto(fleet.url);
      await phone.waitForFunction(() => performance.getEntriesByName('fleet-first-view').length > 0, null, { timeout: 60_000 });
      await phone.screenshot({ path: join(flags.screenshots, `fleet-${n}-375x800.png`) });
      await phone.close();
    }

    // Live: every vehicle sends each second; one on screen changes its speed.
    const all = fleet.specs.map((s) => s.vin);
    const watched = await page.$eval('#vehicles tbody tr', (tr) => (tr as HTMLElement).dataset.vin!);
    const latencies: number[] = [];
    const applyMs: number[] = [];
    const renderMs: number[] = [];
    const tickMs: number[] = [];
    const fullMs: number[] = [];
    for (let k = 1; k <= flags.seconds!; k++) {
      const speed = 100 + k;
      const from = Date.now();
      fleet.touch(all);
      fleet.drive([watched], () => speed);
      await page.waitForFunction(
        ([vin, want]) => document.querySelector(`#vehicles tr[data-vin="${vin}"] td[data-key="speed"]`)?.textContent === want,
        [watched, String(speed)] as const,
        { timeout: 30_000 },
      );
      latencies.push(Date.now() - from);
      const d = await page.$eval('#vehicles', (e) => ({ a: Number((e as HTMLElement).dataset.applyMs), r: Number((e as HTMLElement).dataset.renderMs) }));
      applyMs.push(d.a);
      renderMs.push(d.r);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - from))));
    }
    // The server's side of one tick in which every vehicle sent a frame: the changed rows, their
    // changed columns and the delta's JSON, once for all streams; then a new page's full event.
    const kept = new StreamRows();
    const first = await fleet.source.changes(0);
    kept.apply(first.body);
    kept.cursor = first.cursor;
    for (let i = 0; i < 5; i++) {
      fleet.touch(all);
      const t0 = performance.now();
      const { body, cursor } = await fleet.source.changes(kept.cursor);
      kept.cursor = cursor;
      kept.delta(kept.apply(body), []);
      tickMs.push(performance.now() - t0);
      const t1 = performance.now();
      kept.full();
      fullMs.push(performance.now() - t1);
    }
    const sizes = await eventSizes(fleet.port, 3, () => {
      const timer = setInterval(() => fleet.touch(all), 250);
      setTimeout(() => clearInterval(timer), 4000);
    });
    const out = {
      vehicles: n,
      fill_ms: Math.round(fillMs),
      first_view_ms: firstViews.map(Math.round),
      heap_mb: heaps.map((h) => Math.round(h * 10) / 10),
      rows_in_dom: rows,
      change_to_screen_ms: latencies,
      event_apply_ms: applyMs,
      render_ms: renderMs,
      server_tick_ms: tickMs.map(Math.round),
      server_full_ms: fullMs.map(Math.round),
      full_event_bytes: sizes[0],
      delta_event_bytes: sizes.slice(1),
    };
    if (flags.json) console.log(JSON.stringify(out));
    else {
      console.log(`fleet page, ${n.toLocaleString('en-US')} vehicles (store filled in ${out.fill_ms} ms)`);
      console.log(`  first view        ${range(firstViews)} ms over ${flags.runs} loads (navigation start to the table drawn)`);
      console.log(`  JS heap           ${range(heaps, 1)} MB after a collection`);
      console.log(`  rows in the DOM   ${rows}`);
      console.log(`  live, all sending: change to screen ${range(latencies)} ms; event parsed and applied ${range(applyMs)} ms; render ${range(renderMs)} ms`);
      console.log(
        `  server, one tick with every row changed: ${range(tickMs)} ms (changed columns and JSON, once for all streams); a new page's full event ${range(fullMs)} ms`,
      );
      console.log(
        `  events: full ${(sizes[0] / 1e6).toFixed(2)} MB, deltas ${sizes
          .slice(1)
          .map((s) => `${(s / 1e6).toFixed(2)} MB`)
          .join(', ')}`,
      );
    }
  } finally {
    await browser.close();
    await fleet.close();
  }
}

await main();
