import t from 'tap';
import type { Page } from 'playwright-core';
import { horizontalOverflow, launchBrowser, openPage, screenshot, type WatchedPage } from './helpers/browser.js';
import { startMonitored } from './helpers/monitored.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// Issue #23: the fleet page in a real browser (Debian's Chromium) against the real server, with
// vehicles streaming through it. Needs /api/fleet, /api/vehicles/<VIN> and /api/events.
const VIN_A = '5YJ3E1EA7KF000201'; // named, located, its speed changes during the test
const VIN_B = '5YJ3E1EA7KF000202'; // its name is markup: it must show as text
const VIN_C = '5YJ3E1EA7KF000203'; // disconnects
const HOSTILE = '<img src=x onerror="window.__pwned=1">Blue';
const SIZES = [
  { width: 1280, height: 800 },
  { width: 375, height: 800 },
];

type Datum = { key: string; value: Record<string, unknown> };
const fieldsA = (speed: number): Datum[] => [
  { key: 'VehicleName', value: { string_value: 'Red Car' } },
  { key: 'Soc', value: { double_value: 81.5 } },
  { key: 'VehicleSpeed', value: { float_value: speed } },
  { key: 'Gear', value: { shift_state_value: 'ShiftStateD' } },
  { key: 'DetailedChargeState', value: { detailed_charge_state_value: 'DetailedChargeStateCharging' } },
  { key: 'Location', value: { location_value: { latitude: 37.4, longitude: -122.1 } } },
];
const fieldsB = (odometer: number): Datum[] => [
  { key: 'VehicleName', value: { string_value: HOSTILE } },
  { key: 'Odometer', value: { double_value: odometer } },
  { key: 'Location', value: { location_value: { latitude: 37.45, longitude: -122.05 } } },
];

const cell = (page: Page, vin: string, key: string) => page.locator(`#vehicles tr[data-vin="${vin}"] td[data-key="${key}"]`);
/** Resolves once the cell's text matches; the page gets its values pushed, never reloads. */
const cellMatches = (page: Page, vin: string, key: string, re: RegExp, ms = 15_000) =>
  page.waitForFunction(
    ([sel, src]) => new RegExp(src).test(document.querySelector(sel)?.textContent ?? ''),
    [`#vehicles tr[data-vin="${vin}"] td[data-key="${key}"]`, re.source] as const,
    { timeout: ms },
  );

t.test('the fleet page shows the vehicles live, at desktop and phone sizes', async (t) => {
  const { pki, server, port } = await startMonitored(t.testdir());
  t.teardown(() => server.stop());

  const a = await connectVehicle(server.port, await pki.vehicle(VIN_A), pki.ca.certPem);
  const b = await connectVehicle(server.port, await pki.vehicle(VIN_B), pki.ca.certPem);
  const c = await connectVehicle(server.port, await pki.vehicle(VIN_C), pki.ca.certPem);
  t.teardown(() => Promise.all([a.close(), b.close(), c.close()]));
  a.send(vFrame('a-0', VIN_A, fieldsA(52)));
  b.send(vFrame('b-0', VIN_B, fieldsB(1000)));
  c.send(vFrame('c-0', VIN_C, [{ key: 'VehicleSpeed', value: { float_value: 10 } }]));
  for (const [v, txid] of [
    [a, 'a-0'],
    [b, 'b-0'],
    [c, 'c-0'],
  ] as const)
    t.equal((await v.response(txid)).kind, 'ack', `${txid} acked`);

  // B keeps streaming while the page is open.
  let odometer = 1000;
  const stream = setInterval(() => b.send(vFrame(`b-${++odometer}`, VIN_B, fieldsB(odometer))), 250);
  t.teardown(() => clearInterval(stream));

  const browser = await launchBrowser(t);
  const url = `http://127.0.0.1:${port}/`;
  const pages: WatchedPage[] = [];

  // ---- desktop ----
  const desk = await openPage(browser, url, SIZES[0]);
  pages.push(desk);
  const p = desk.page;
  const loaded = Date.now();
  await p.waitForFunction((vins) => vins.every((v) => document.querySelector(`#vehicles tr[data-vin="${v}"]`)), [VIN_A, VIN_B, VIN_C], { timeout: 3000 });
  t.pass(`all three vehicles listed within 3 s of the page loading (${Date.now() - loaded} ms)`);

  t.equal(await cell(p, VIN_A, 'vehicle').textContent(), `${VIN_A}Red Car`, 'VIN and name');
  t.match(await cell(p, VIN_A, 'status').textContent(), /^connected$/, 'A connected');
  t.match(await cell(p, VIN_A, 'speed').textContent(), /^52$/, 'speed');
  t.match(await cell(p, VIN_A, 'soc').textContent(), /^81\.5$/, 'soc (its unit in the header)');
  t.match(await cell(p, VIN_A, 'gear').textContent(), /^D$/, 'gear');
  t.match(await cell(p, VIN_A, 'charging').textContent(), /^charging$/, 'charging');
  t.match(await cell(p, VIN_A, 'last').textContent(), /s ago$/, 'last frame, relative');
  t.match(await p.locator('#h-broker').textContent(), /^connected$/, 'health strip: broker connected');
  t.match(await p.locator('#h-vehicles').textContent(), /^3 \/ 3$/, 'health strip: 3 of 3 connected');

  // Text from vehicles is text: the markup in B's name is shown, never run.
  t.equal(await p.locator(`#vehicles tr[data-vin="${VIN_B}"] .name`).textContent(), HOSTILE, 'markup in a name is shown as text');
  t.equal(await p.evaluate(() => document.querySelectorAll('main img').length), 0, 'no element made from a name');
  t.equal(await p.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'no script from a name ran');

  // Positions: the two located vehicles, no map tiles (any other request would be a problem below).
  t.equal(await p.locator('#plot circle').count(), 2, 'two vehicles on the position plot');
  t.equal(await p.locator(`#plot circle[data-vin="${VIN_A}"]`).count(), 1, 'A plotted');

  // Live: a new value shows without a reload.
  await p.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
  a.send(vFrame('a-1', VIN_A, fieldsA(77)));
  t.equal((await a.response('a-1')).kind, 'ack', 'a-1 acked');
  await cellMatches(p, VIN_A, 'speed', /^77$/);
  t.equal(await p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'speed 52 -> 77 live, same document');

  // Disconnected: C stays listed, marked as such.
  await c.close();
  await cellMatches(p, VIN_C, 'status', /^disconnected$/);
  t.pass('C shown as disconnected');
  t.match(await cell(p, VIN_C, 'status').getAttribute('title'), /^since .*: asleep, or off the network$/, 'since when, in the title');
  t.match(await p.locator('#h-vehicles').textContent(), /^2 \/ 3$/, 'health strip: 2 of 3 connected');

  let o = await horizontalOverflow(p);
  t.ok(o.scrollWidth <= o.innerWidth, `1280x800: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.comment(`screenshot: ${await screenshot(p, 'fleet-1280x800')}`);

  // Detail: every field with its arrival time, from /api/events?vin=.
  await cell(p, VIN_A, 'vehicle').click();
  await p.waitForSelector('#d-fields tr[data-field="VehicleSpeed"]', { timeout: 15_000 });
  const fields = await p.$$eval('#d-fields tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent ?? '')));
  const names = fields.map((f) => f[0]);
  for (const n of ['DetailedChargeState', 'Gear', 'Location', 'Soc', 'VehicleName', 'VehicleSpeed']) t.ok(names.includes(n), `detail lists ${n}`);
  t.equal(fields.find((f) => f[0] === 'VehicleSpeed')?.[1], '77', 'detail: latest speed');
  t.ok(
    fields.every((f) => f[2] && f[2] !== '–'),
    'detail: every field has an arrival time',
  );
  t.match(await p.locator('#d-title').textContent(), new RegExp(`^Red Car · ${VIN_A}$`), 'detail title');
  o = await horizontalOverflow(p);
  t.ok(o.scrollWidth <= o.innerWidth, `1280x800 with detail: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.comment(`screenshot: ${await screenshot(p, 'fleet-1280x800-detail')}`);

  // ---- phone ----
  const phone = await openPage(browser, url, SIZES[1]);
  pages.push(phone);
  const q = phone.page;
  await q.waitForFunction((vins) => vins.every((v) => document.querySelector(`#vehicles tr[data-vin="${v}"]`)), [VIN_A, VIN_B, VIN_C], { timeout: 3000 });
  await cellMatches(q, VIN_C, 'status', /^disconnected$/);
  o = await horizontalOverflow(q);
  t.ok(o.scrollWidth <= o.innerWidth, `375x800: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.comment(`screenshot: ${await screenshot(q, 'fleet-375x800')}`);
  await cell(q, VIN_B, 'vehicle').click();
  await q.waitForSelector('#d-fields tr[data-field="Odometer"]', { timeout: 15_000 });
  o = await horizontalOverflow(q);
  t.ok(o.scrollWidth <= o.innerWidth, `375x800 with detail: no horizontal scroll (${o.scrollWidth} <= ${o.innerWidth})`);
  t.comment(`screenshot: ${await screenshot(q, 'fleet-375x800-detail')}`);

  for (const [i, w] of pages.entries()) t.same(w.problems, [], `${SIZES[i].width}x${SIZES[i].height}: no console errors, uncaught errors or failed requests`);
  clearInterval(stream);
  for (const w of pages) await w.page.close();
});
