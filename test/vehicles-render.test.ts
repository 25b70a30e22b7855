import t from 'tap';
import { fleetListingProblem } from '../src/cli/fleet-listing.js';
import { baseFromConfig, baseFromUrl } from '../src/cli/fleet-fetch.js';
import { UsageError } from '../src/cli/command.js';
import { ago, duration, fitWidth, renderFleet, safeText, valueText } from '../src/cli/vehicles-render.js';
import type { Config } from '../src/config/types.js';
import { AT, fleetFixture, row } from './helpers/fleet-fixture.js';

// The terminal view of issue #23 (`fleet-telemetry vehicles`), drawn from fixtures: no server.
const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (line: string) => [...line.replace(ANSI, '')].length;
const lines = (text: string) => text.replace(/\n$/, '').split('\n');
/** The header and the rows, whatever number of lines the health part took. */
const table = (text: string) => lines(text).slice(lines(text).findIndex((l) => l.startsWith('VIN')));

t.test('durations and relative times: two units at most, a later moment is "just now"', async (t) => {
  const cases: [number, string][] = [
    [0, '0s'],
    [999, '0s'],
    [59_999, '59s'],
    [60_000, '1m 0s'],
    [310_000, '5m 10s'],
    [3_599_000, '59m 59s'],
    [3_600_000, '1h 0m'],
    [26 * 3600_000 + 5 * 60_000, '1d 2h'],
    [-5000, '0s'],
  ];
  for (const [ms, want] of cases) t.equal(duration(ms), want, `${ms} ms`);
  t.equal(ago(AT - 1000, AT), '1s ago');
  t.equal(ago(AT - 500, AT), 'just now');
  t.equal(ago(AT + 30_000, AT), 'just now', 'a frame stamped after the answer (clocks apart) is not "-30s ago"');
  t.equal(valueText(81.55), '81.6');
  t.equal(valueText(null), '-');
  t.equal(valueText({ a: 1 }), '{"a":1}');
  t.equal(valueText(true), 'true');
});

t.test('the whole view, no width limit and no colour, exactly', async (t) => {
  const text = renderFleet(fleetFixture(), { color: false });
  t.equal(
    text,
    [
      '2/3 connected · 12.5 frames/s · 250 fields/s · 1234 acked · 2 unanswered · 0 errors · broker connected · ready · 4 in flight',
      '',
      'VIN                NAME                                          STATE                    LAST FRAME  FRAMES  FIELDS    SOC  SPEED  GEAR  CHARGING      TRIP',
      '5YJ3E7EB2NF000001  Red Car                                       connected                1s ago          42     840  81.5%     52  D     Disconnected    92',
      '5YJ3E7EB2NF000002  A very long vehicle name that goes on and on  disconnected 5m 10s ago  5m 20s ago       7      70      -      -  -     Charging         -',
      '5YJ3E7EB2NF000003  -                                             connected                never            0       0      -      -  -     -                -',
      '',
    ].join('\n'),
  );
  t.notMatch(text, /\x1b/, 'no escape sequence at all without colour');
  t.notMatch(text, / \n/, 'no trailing blanks');
});

t.test('fits every width: the name column is cut first, then whole columns go, VIN and state stay', async (t) => {
  const body = fleetFixture();
  for (const width of [200, 156, 120, 100, 80, 70, 60, 45, 30, 12]) {
    for (const color of [false, true]) {
      const text = renderFleet(body, { width, color });
      const over = lines(text).filter((l) => visible(l) > width);
      t.same(over, [], `${width} columns, colour ${color}: no line wider`);
    }
  }
  t.equal(renderFleet(body, { width: 156, color: false }), renderFleet(body, { color: false }), 'the natural width: nothing cut');
  const at120 = table(renderFleet(body, { width: 120, color: false }));
  t.match(at120[0], /^VIN +NAME +STATE .* TRIP$/, '120: every column kept');
  t.match(at120[2], /^5YJ3E7EB2NF000002  A very …  disconnected 5m 10s ago/, '120: the long name cut with an ellipsis');
  t.match(at120[1], /  Red Car  /, 'a short name is not cut');
  const at70 = table(renderFleet(body, { width: 70, color: false }));
  t.notMatch(at70[0], /TRIP|CHARGING|FIELDS/, '70: the least needed columns went');
  t.match(at70[0], /^VIN +NAME +STATE +LAST FRAME/);
  for (const l of table(renderFleet(body, { width: 45, color: false })).slice(1)) t.match(l, /^5YJ3E7EB2NF00000\d  /, '45: each row still starts with its VIN');
});

t.test('colours: only when asked, the same text underneath, states coloured by meaning', async (t) => {
  const body = fleetFixture();
  body.health.broker_connected = false;
  body.health.ready = false;
  for (const width of [undefined, 120, 60]) {
    const plain = renderFleet(body, { width, color: false });
    const coloured = renderFleet(body, { width, color: true });
    t.not(coloured, plain);
    t.equal(coloured.replace(ANSI, ''), plain, `width ${width}: stripping the colours gives the plain view`);
  }
  const coloured = renderFleet(body, { color: true });
  t.match(coloured, '\x1b[32mconnected', 'connected: green');
  t.match(coloured, '\x1b[33mdisconnected 5m 10s ago', 'disconnected: yellow');
  t.match(coloured, '\x1b[31mbroker disconnected\x1b[0m', 'broker down: red');
  t.match(coloured, '\x1b[31mnot ready\x1b[0m', 'not ready: red');
  t.match(coloured, '\x1b[33m2 unanswered\x1b[0m', 'unanswered frames: yellow');
  t.match(coloured, '\x1b[1mVIN', 'header: bold');
  const cut = lines(renderFleet(body, { width: 20, color: true }));
  t.ok(
    cut.filter((l) => l.includes('…')).every((l) => l.endsWith('…\x1b[0m')),
    'a line cut inside a colour resets it',
  );
});

t.test('nulls, odd values and missing pieces', async (t) => {
  const body = fleetFixture();
  body.vehicles = [
    row('5YJ3E7EB2NF000010', { key: { soc: 'n/a', speed: 12.345, gear: 'P', charging: { odd: true }, location: null } }),
    { ...row('5YJ3E7EB2NF000011'), key: undefined as never, trip_score: 0 },
    row('5YJ3E7EB2NF000012', { last_frame_at: AT + 5000, name: '' }),
  ];
  const ls = lines(renderFleet(body, { color: false }));
  t.match(ls[3], /n\/a +12\.3 +P +\{"odd":true\}/, 'a non-number soc as text, speed to one decimal, an object as JSON');
  t.match(ls[4], /connected +never +0 +0 +- +- +- +- +0$/, 'no key block: dashes; a trip score of 0 is shown');
  t.match(ls[5], /^5YJ3E7EB2NF000012  - +connected +just now/, 'an empty name is "-"; a frame from a clock ahead is "just now"');

  const empty = renderFleet({ ...fleetFixture(), vehicles: [] }, { color: false });
  t.match(empty, /\n\nno vehicles seen since the server started\n$/);
  const sparse = renderFleet({ at: AT, health: {} as never, vehicles: [] }, { color: false });
  t.match(sparse, /^\?\/\? connected · \? frames\/s/, 'a health block without numbers shows "?"');
  const noBroker = fleetFixture();
  noBroker.health.broker_connected = null;
  t.match(renderFleet(noBroker, { color: false }), / · no broker · ready · /, 'no MQTT producer: "no broker", not "connected"');
  const two = { ...fleetFixture() };
  two.health = { ...two.health, workers: 2 };
  t.match(renderFleet(two, { color: false }), / · 2 workers\n/, 'workers named only when more than one');
});

t.test('text a vehicle sends cannot drive the terminal', async (t) => {
  const body = fleetFixture();
  body.vehicles = [
    row('5YJ3E7EB2NF000020', { name: 'Evil\x1b[2J\nName\u202e', key: { soc: null, speed: null, gear: '\x07D', charging: null, location: null } }),
  ];
  const text = renderFleet(body, { color: false });
  t.notMatch(text, /[\x00-\x09\x0b-\x1f\u202e]/, 'no control character but the line ends');
  t.equal(lines(text).length, 4, 'health, blank, header, one row: the newline in the name did not add a row');
  t.match(text, 'Evil?[2J?Name?');
  t.equal(safeText('ok\u0085'), 'ok?', 'C1 controls too');
});

t.test('a long fleet in a short terminal: the rows that fit, then a count', async (t) => {
  const body = fleetFixture();
  body.vehicles = Array.from({ length: 10 }, (_, i) => row(`5YJ3E7EB2NF0001${String(i).padStart(2, '0')}`));
  const ls = lines(renderFleet(body, { color: false, maxRows: 4 }));
  t.equal(ls.filter((l) => l.startsWith('5YJ3')).length, 3);
  t.equal(ls.at(-1), '… 7 more (--json lists every vehicle)');
  t.equal(lines(renderFleet(body, { color: false, maxRows: 10 })).filter((l) => l.startsWith('5YJ3')).length, 10, 'exactly enough room: no count line');
});

t.test('fitWidth counts visible characters only', async (t) => {
  t.equal(fitWidth('abcdef', 6), 'abcdef');
  t.equal(fitWidth('abcdef', 4), 'abc…');
  t.equal(fitWidth('\x1b[1mabcdef\x1b[0m', 6), '\x1b[1mabcdef\x1b[0m');
  t.equal(fitWidth('\x1b[1mabcdef\x1b[0m', 3), '\x1b[1mab…\x1b[0m');
});

t.test('what the view accepts as a fleet body', async (t) => {
  t.equal(fleetListingProblem(fleetFixture()), undefined);
  t.equal(fleetListingProblem([]), 'not a JSON object');
  t.equal(fleetListingProblem({ at: 1, health: {}, vehicles: {} }), '"vehicles" is not an array');
  t.equal(fleetListingProblem({ at: 1, health: {}, vehicles: [{ name: 'x' }] }), 'vehicles[0] has no "vin"');
  t.equal(fleetListingProblem({ count: 0, vehicles: [] }), '"at" is not a number', 'the older /vehicles body is not taken for a fleet');
});

t.test('where the monitoring port is: --url forms and a config', async (t) => {
  t.equal(baseFromUrl('http://10.0.0.5:9273'), 'http://10.0.0.5:9273');
  t.equal(baseFromUrl('10.0.0.5:9273/'), 'http://10.0.0.5:9273');
  t.equal(baseFromUrl(':9273'), 'http://127.0.0.1:9273');
  t.equal(baseFromUrl('https://mon.example/fleet/'), 'https://mon.example/fleet', 'a path prefix (behind a proxy) is kept');
  const refused = (raw: string) => {
    try {
      baseFromUrl(raw);
      return 'accepted';
    } catch (err) {
      return err instanceof UsageError ? err.message : `not a usage error: ${String(err)}`;
    }
  };
  t.match(refused('mqtt://x:1883'), /speaks http, not mqtt/);
  t.match(refused('http://x:9273/?a=1'), /without \?query/);
  t.match(refused('http://[bad'), /not a URL/);
  const cfg = (monitoring: Partial<Config['monitoring']>) => ({ monitoring: { host: '127.0.0.1', ...monitoring } }) as Config;
  t.same(baseFromConfig(cfg({ prometheus_metrics_port: 9273 }), 'c.json'), { base: 'http://127.0.0.1:9273' });
  t.same(
    baseFromConfig(cfg({ prometheus_metrics_port: 9273, host: '0.0.0.0' }), 'c.json'),
    { base: 'http://127.0.0.1:9273' },
    'every interface: reached on loopback',
  );
  t.same(baseFromConfig(cfg({ prometheus_metrics_port: 9273, host: '::' }), 'c.json'), { base: 'http://[::1]:9273' });
  t.same(baseFromConfig(cfg({ prometheus_metrics_port: 9273, host: 'fd00::5' }), 'c.json'), { base: 'http://[fd00::5]:9273' });
  t.match(baseFromConfig(cfg({}), 'c.json'), { missing: /c\.json sets no monitoring\.prometheus_metrics_port/ });
  t.throws(() => baseFromConfig(cfg({ prometheus_metrics_port: 0 }), 'c.json'), { message: /any free port.*--url/ });
});
