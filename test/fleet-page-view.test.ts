import t from 'tap';
import type { Page } from 'playwright-core';
import { horizontalOverflow, launchBrowser, openPage, screenshot } from './helpers/browser.js';
import { startFilledFleet, type VehicleSpec } from './helpers/fleet-filled.js';

// The fleet page for a fleet of 120 (Debian's Chromium, the real store and endpoints): search,
// state filters, sorting, the view in the URL, units in the headers, alert and error counts,
// colours by class, and the positions panel's graticule and scale bar.

const FAULTY: VehicleSpec = {
  vin: 'LRW3E7EB0PC999001',
  connected: true,
  data: [
    { key: 'VehicleName', value: { string_value: 'Tow Truck 1' } },
    { key: 'Soc', value: { double_value: 60 } },
    { key: 'VehicleSpeed', value: { float_value: 0 } },
    { key: 'DetailedChargeState', value: { detailed_charge_state_value: 'DetailedChargeStateDisconnected' } },
    { key: 'Odometer', value: { double_value: 12345.6 } },
    { key: 'RatedRange', value: { double_value: 187.25 } },
    { key: 'Version', value: { string_value: '2025.26.1 ffee00' } },
    { key: 'Location', value: { location_value: { latitude: 37.5, longitude: -122.2 } } },
  ],
  alerts: [
    { name: 'BMS_a066_SW_Over_Temp', audiences: ['Customer', 'ServiceFix'], startedAt: { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 } },
    { name: 'UI_a020_Door_Open', audiences: ['Customer'], startedAt: { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 } },
    { name: 'UI_a021_Trunk_Open', audiences: ['Customer'], startedAt: { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 } },
  ],
  errors: [{ name: 'stream_backlog', body: 'records dropped', tags: {}, createdAt: { seconds: BigInt(Math.floor(Date.now() / 1000) - 60), nanos: 0 } }],
};
const ASLEEP: VehicleSpec = {
  vin: 'LRW3E7EB0PC999002',
  connected: false,
  data: [
    { key: 'VehicleName', value: { string_value: 'Sleepy' } },
    { key: 'DetailedChargeState', value: { detailed_charge_state_value: 'DetailedChargeStateCharging' } },
  ],
};
const RED = 'rgb(180, 35, 24)';
const CALM = 'rgb(102, 112, 133)';

const value = (s: VehicleSpec, key: string) => {
  const v = s.data.find((d) => d.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};
const vins = (p: Page) => p.$$eval('#vehicles tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.vin!));
const cells = (p: Page, key: string) => p.$$eval(`#vehicles tbody td[data-key="${key}"]`, (tds) => tds.map((td) => td.textContent ?? ''));
const cellOf = (p: Page, vin: string, key: string) => p.locator(`#vehicles tr[data-vin="${vin}"] td[data-key="${key}"]`);
const colour = (p: Page, sel: string) => p.$eval(sel, (e) => getComputedStyle(e).color);
/** Resolves once the table's range text reads `re` (the page renders on the next frame). */
const rangeIs = (p: Page, re: RegExp) =>
  p.waitForFunction((src) => new RegExp(src).test(document.getElementById('range-text')?.textContent ?? ''), re.source, { timeout: 10_000 });
const speedOf = (s: string) => Number(s.replace(/,/g, ''));

t.test('the fleet page with 120 vehicles: search, filters, sort, the view in the URL, units, counts, colours, graticule', async (t) => {
  const fleet = await startFilledFleet(120, [FAULTY, ASLEEP]);
  t.teardown(() => fleet.close());
  const specs = fleet.specs;
  const browser = await launchBrowser(t);
  const { page: p, problems } = await openPage(browser, fleet.url, { width: 1280, height: 800 });
  await rangeIs(p, /^1–50 of 122$/);
  t.equal((await vins(p)).length, 50, 'one page of 50 rows');

  // Units from the server's discovery table, in the headers; the cells carry numbers only.
  const heads = await p.$$eval('#vehicles thead th', (ths) =>
    Object.fromEntries(ths.map((th) => [(th as HTMLElement).dataset.key, th.querySelector('.head-label')?.textContent])),
  );
  t.match(
    heads,
    { soc: 'SoC (%)', speed: 'Speed (mph)', odometer: 'Odometer (mi)', range: 'Range (mi)', firmware: 'Firmware', alerts: 'Alerts' },
    'units in the headers',
  );

  // ---- search by name ----
  await p.fill('#q', 'tow truck');
  await rangeIs(p, /^1–1 of 1$/);
  t.same(await vins(p), [FAULTY.vin], 'search by name');
  const row = async (vin: string) =>
    Object.fromEntries(await p.$$eval(`#vehicles tr[data-vin="${vin}"] td`, (tds) => tds.map((td) => [(td as HTMLElement).dataset.key, td.textContent])));
  t.match(
    await row(FAULTY.vin),
    {
      soc: '60.0',
      odometer: '12,346',
      range: '187',
      speed: '0',
      firmware: '2025.26.1',
      alerts: '1 fault, 2 warnings',
      errors: '1 warning',
      charging: 'unplugged',
      status: 'connected',
    },
    'counts with severity, odometer, range, firmware; fixed decimals per unit, thousands separators; a connected car with no cable reads "unplugged"',
  );
  t.equal(await cellOf(p, FAULTY.vin, 'firmware').getAttribute('title'), '2025.26.1 ffee00', 'the whole Version in the title');
  t.equal(await colour(p, `#vehicles tr[data-vin="${FAULTY.vin}"] td[data-key="alerts"]`), RED, 'a fault is red');
  t.equal(await colour(p, `#vehicles tr[data-vin="${FAULTY.vin}"] td[data-key="errors"]`), 'rgb(181, 71, 8)', 'errors are warnings: amber');
  t.match(await p.getAttribute(`#vehicles tr[data-vin="${FAULTY.vin}"]`, 'class'), /\bfault\b/, 'the row is marked as holding a fault');

  // ---- search by VIN, lower case, part of it ----
  await p.fill('#q', ASLEEP.vin.slice(-7).toLowerCase());
  await rangeIs(p, /^1–1 of 1$/);
  t.same(await vins(p), [ASLEEP.vin], 'search by part of the VIN');
  t.equal(await cellOf(p, ASLEEP.vin, 'status').textContent(), 'disconnected');
  t.equal(await cellOf(p, ASLEEP.vin, 'charging').textContent(), 'car offline', 'an offline car: said so, not "charging" or "Disconnected"');
  t.equal(await cellOf(p, ASLEEP.vin, 'charging').getAttribute('title'), 'last reported: charging', 'its last charge state in the title');
  t.equal(await colour(p, `#vehicles tr[data-vin="${ASLEEP.vin}"] td[data-key="status"]`), CALM, 'asleep or disconnected: calm grey, not red');
  t.equal(await p.locator(`#vehicles tr[data-vin="${FAULTY.vin}"]`).count(), 0, 'the other row is gone');
  await p.fill('#q', 'no such car');
  await rangeIs(p, /^none match$/);
  t.equal(await p.isVisible('#none'), true, 'says that nothing matches');
  await p.fill('#q', '');

  // ---- state filters ----
  const charging = specs.filter((s) => s.connected && /Charging|Starting/.test(String(value(s, 'DetailedChargeState'))));
  await p.selectOption('#state', 'charging');
  await rangeIs(p, new RegExp(`of ${charging.length}$`));
  t.ok(
    (await cells(p, 'charging')).every((c) => c === 'charging'),
    `charging: ${charging.length} rows, each charging`,
  );
  const asleep = specs.filter((s) => !s.connected);
  await p.selectOption('#state', 'disconnected');
  await rangeIs(p, new RegExp(`of ${asleep.length}$`));
  const st = await cells(p, 'status');
  t.ok(st.length > 0 && st.every((c) => c === 'disconnected'), `asleep or disconnected: ${asleep.length} rows`);
  const colours = await p.$$eval('#vehicles tbody td[data-key="status"]', (tds) => [...new Set(tds.map((td) => getComputedStyle(td).color))]);
  t.same(colours, [CALM], 'every disconnected status calm grey');
  const alerting = specs.filter((s) => s.alerts?.length);
  await p.selectOption('#state', 'alerts');
  await rangeIs(p, new RegExp(`of ${alerting.length}$`));
  t.ok(
    (await cells(p, 'alerts')).every((c) => /\d (fault|warning|info)/.test(c)),
    `with alerts: ${alerting.length} rows, each with a count`,
  );
  await p.selectOption('#state', 'connected');
  await rangeIs(p, new RegExp(`of ${specs.length - asleep.length}$`));
  t.notOk(
    (await cells(p, 'charging')).some((c) => /disconnected/i.test(c)),
    'no connected car reads "Disconnected" in the Charging column',
  );
  await p.selectOption('#state', 'all');

  // ---- sort by clicking headers ----
  await p.click('#vehicles th[data-key="speed"] button');
  await p.click('#vehicles th[data-key="speed"] button');
  await p.waitForSelector('#vehicles th[data-key="speed"][aria-sort="descending"]');
  await rangeIs(p, /^1–50 of 122$/);
  const speeds = (await cells(p, 'speed')).map(speedOf);
  const top = Math.max(...specs.map((s) => Number(value(s, 'VehicleSpeed') ?? -1)));
  t.equal(speeds[0], top, 'fastest first');
  t.ok(
    speeds.every((s, i) => i === 0 || s <= speeds[i - 1]),
    'speed descending',
  );
  await p.click('#vehicles th[data-key="odometer"] button');
  await p.waitForSelector('#vehicles th[data-key="odometer"][aria-sort="ascending"]');
  const odo = (await cells(p, 'odometer')).filter((c) => c !== '–').map(speedOf);
  t.ok(odo.length > 40 && odo.every((s, i) => i === 0 || s >= odo[i - 1]), 'odometer ascending');
  await p.click('#vehicles th[data-key="alerts"] button');
  await p.click('#vehicles th[data-key="alerts"] button');
  await p.waitForSelector('#vehicles th[data-key="alerts"][aria-sort="descending"]');
  t.equal((await vins(p))[0], FAULTY.vin, 'alerts descending: the car with the most serious ones first');

  // ---- pages ----
  await p.click('#vehicles th[data-key="vehicle"] button');
  await p.click('#next');
  await rangeIs(p, /^51–100 of 122$/);
  t.equal((await vins(p)).length, 50, 'page 2: 50 rows');

  // ---- the view in the URL: a reload, and the link opened elsewhere, show the same rows ----
  await p.selectOption('#state', 'connected');
  await p.fill('#q', 'o');
  await p.click('#vehicles th[data-key="speed"] button');
  await p.click('#vehicles th[data-key="speed"] button');
  await p.click('#next');
  await rangeIs(p, /^51–/);
  const url = new URL(p.url());
  t.match(
    Object.fromEntries(url.searchParams),
    { q: 'o', state: 'connected', sort: 'speed', dir: 'desc', page: '2' },
    'search, filter, sort and page in the URL',
  );
  const before = await vins(p);
  await p.reload();
  await rangeIs(p, /^51–/);
  t.same(await vins(p), before, 'a reload restores the same rows');
  t.equal(await p.inputValue('#q'), 'o', 'and the search box');
  t.equal(await p.inputValue('#state'), 'connected', 'and the filter');
  t.equal(await p.getAttribute('#vehicles th[data-key="speed"]', 'aria-sort'), 'descending', 'and the sort');
  const shared = await openPage(browser, url.href, { width: 1280, height: 800 });
  await rangeIs(shared.page, /^51–/);
  t.same(await vins(shared.page), before, 'the link opened in another page shows the same rows');
  t.same(shared.problems, [], 'no problems on the shared page');
  await shared.page.close();

  // ---- positions: graticule with labels, a scale bar, nothing fetched ----
  await p.goto(fleet.url);
  await rangeIs(p, /^1–50 of 122$/);
  t.ok((await p.locator('#plot .graticule line').count()) >= 4, 'graticule lines');
  const labels = await p.$$eval('#plot .graticule .grid-label', (ts) => ts.map((x) => x.textContent ?? ''));
  t.ok(labels.filter((l) => /^\d+(\.\d+)?°[NS]$/.test(l)).length >= 2, `latitudes labelled (${labels.filter((l) => /[NS]$/.test(l)).join(' ')})`);
  t.ok(labels.filter((l) => /^\d+(\.\d+)?°[EW]$/.test(l)).length >= 2, `longitudes labelled (${labels.filter((l) => /[EW]$/.test(l)).join(' ')})`);
  t.match(await p.locator('#plot .scale-bar text').textContent(), /^\d[\d,.]* mi$/, 'a scale bar in the unit of the odometer');
  t.equal(await p.locator('#plot circle').count(), 50, "the page's vehicles as circles");
  t.equal(await p.locator('#plot path.dots').count(), 2, 'the others as dots, two paths whatever their number');
  let o = await horizontalOverflow(p);
  t.ok(o.scrollWidth <= o.innerWidth, `1280x800: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.comment(`screenshot: ${await screenshot(p, 'fleet-120-1280x800-full')}, ${await screenshot(p, 'fleet-120-1280x800', false)}`);
  await p.click(`#vehicles tbody tr:first-child td[data-key="vehicle"]`);
  await p.waitForSelector('#d-fields tr[data-field="Odometer"]', { timeout: 15_000 });
  t.comment(`screenshot: ${await screenshot(p, 'fleet-120-1280x800-detail', false)}`);

  // ---- phone: no sideways scroll; sorting from the toolbar (no table header there) ----
  const phone = await openPage(browser, fleet.url, { width: 375, height: 800 });
  const q = phone.page;
  await rangeIs(q, /^1–50 of 122$/);
  o = await horizontalOverflow(q);
  t.ok(o.scrollWidth <= o.innerWidth, `375x800: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.equal(await q.isVisible('#sort'), true, 'the sort menu is there on a phone');
  await q.selectOption('#sort', 'soc');
  await q.click('#dir');
  await q.waitForFunction(() => new URL(location.href).searchParams.get('dir') === 'desc');
  const socs = (await cells(q, 'soc')).filter((c) => c !== '–').map(Number);
  t.ok(socs.length > 40 && socs.every((s, i) => i === 0 || s <= socs[i - 1]), 'SoC descending from the toolbar');
  await q.goto(fleet.url);
  await rangeIs(q, /^1–50 of 122$/);
  t.comment(`screenshot: ${await screenshot(q, 'fleet-120-375x800-full')}, ${await screenshot(q, 'fleet-120-375x800', false)}`);

  t.same(problems, [], '1280x800: no console errors, uncaught errors or failed requests');
  t.same(phone.problems, [], '375x800: none either');
  await q.close();
  await p.close();
});
