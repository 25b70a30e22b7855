import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, openPage, screenshot } from './helpers/browser.js';
import { startMonitored } from './helpers/monitored.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// Issue #31 part 2 in a real browser (Debian's Chromium): with the monitoring port off loopback,
// the fleet page shows vehicles only after the login form took the token; without one it is refused.
const VIN = '5YJ3E1EA7KF000231';
const TOKEN = 'browser-fleet-token-9f8e7d6c5b4a3210';
const rows = `#vehicles tr[data-vin="${VIN}"]`;

t.test('the fleet page off loopback: a login form, then the vehicles; the cookie is HttpOnly and SameSite=Strict', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'fleet.token'), TOKEN);
  const { pki, server, port } = await startMonitored(dir, {
    monitoring: { prometheus_metrics_port: 0, prometheus_metrics_host: '', fleet_view: { token_file: 'fleet.token' } },
  });
  t.teardown(() => server.stop());
  const car = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => car.close());
  car.send(vFrame('l-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 33 } }]));
  t.equal((await car.response('l-1')).kind, 'ack');

  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser, `http://127.0.0.1:${port}/`, { width: 1280, height: 800 });
  t.equal(await page.locator('form[action="/login"]').count(), 1, 'the page asks for the token');
  t.equal(await page.locator(rows).count(), 0, 'and shows no vehicle');
  t.comment(`screenshot: ${await screenshot(page, 'fleet-login')}`);

  await page.fill('#token', 'not-the-token');
  await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  t.match(await page.locator('.login-error').textContent(), /not the one configured/, 'a wrong token: said so, still the form');
  t.equal(await page.locator(rows).count(), 0, 'still no vehicle');

  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`http://127.0.0.1:${port}/`), page.click('button[type="submit"]')]);
  await page.waitForSelector(rows, { timeout: 15_000 });
  t.pass("after the right token, the vehicle is listed (the page's own API and event requests carry the cookie)");
  await page.waitForFunction((sel) => /^33$/.test(document.querySelector(`${sel} td[data-key="speed"]`)?.textContent ?? ''), rows, { timeout: 15_000 });
  t.pass('with its live value');
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === 'ft_fleet');
  t.ok(c, 'the login cookie is set');
  t.equal(c?.httpOnly, true, 'HttpOnly');
  t.equal(c?.sameSite, 'Strict', 'SameSite=Strict');
  t.equal(await page.evaluate(() => document.cookie), '', "the page's script cannot read it");
  t.comment(`screenshot: ${await screenshot(page, 'fleet-after-login')}`);
  // The two 401s are the login form's own answers; nothing else may have gone wrong.
  t.same(
    problems.filter(
      (p) => !/^HTTP 401: http:\/\/127\.0\.0\.1:\d+\/(login)?$/.test(p) && !/Failed to load resource: the server responded with a status of 401/.test(p),
    ),
    [],
    'no other console errors or failed requests',
  );
});

t.test('the fleet page off loopback without a token file is refused, and lists no vehicle', async (t) => {
  const { pki, server, port } = await startMonitored(t.testdir(), { monitoring: { prometheus_metrics_port: 0, prometheus_metrics_host: '' } });
  t.teardown(() => server.stop());
  const car = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  t.teardown(() => car.close());
  car.send(vFrame('r-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 44 } }]));
  t.equal((await car.response('r-1')).kind, 'ack');
  const browser = await launchBrowser(t);
  const { page, problems } = await openPage(browser, `http://127.0.0.1:${port}/`, { width: 1280, height: 800 });
  t.ok(
    problems.some((p) => /^HTTP 403: /.test(p)),
    'the page answered 403',
  );
  t.match(await page.locator('body').textContent(), /set monitoring\.fleet_view\.token_file/, 'saying what to set');
  t.equal(await page.locator(rows).count(), 0, 'no vehicle shown');
  t.notMatch(await page.content(), new RegExp(VIN), 'the VIN appears nowhere on the page');
});
