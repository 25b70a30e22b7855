import t from 'tap';
import Long from 'long';
import { decodeRecord } from '../src/record/decode.js';
import { lookupType } from '../src/record/schema.js';
import { alertInstant, compareInstants, rfc3339 } from '../src/record/timestamp.js';
import { defaultPlanOptions, planPublishes, type PlanOptions, type Publish } from '../src/publish/plan.js';
import { MAX_LEVEL_BYTES, sanitizeLevel, statusTopic, TopicLevelError, topicLevel, TopicNames, vinFromCommonName } from '../src/publish/topics.js';
import { canonicalJson } from './helpers/fixtures.js';

// Contract §5 (topics) and §6 (payloads) for every record type, plus the alerts rule of §4.

const VIN = '5YJ3E1EA7KF000001';
const T = 'telemetry';
const opts = (o: Partial<PlanOptions> = {}): PlanOptions => ({ ...defaultPlanOptions(T), ...o });

const enc = (type: string, obj: Record<string, unknown>) => {
  const ty = lookupType(type);
  return ty.encode(ty.fromObject(obj)).finish();
};
const ts = (seconds: number | string, nanos = 0) => ({ seconds: Long.fromValue(seconds), nanos });

function plan(recordType: string, type: string, obj: Record<string, unknown>, o = opts(), vin = VIN): Publish[] {
  return planPublishes(decodeRecord(recordType, enc(type, obj), vin, 'tx'), o);
}
const planV = (data: Record<string, unknown>[], o = opts(), vin = VIN) => plan('V', 'telemetry.vehicle_data.Payload', { data }, o, vin);
const planAlerts = (alerts: Record<string, unknown>[], o = opts()) => plan('alerts', 'telemetry.vehicle_alerts.VehicleAlerts', { alerts }, o);
const planErrors = (errors: Record<string, unknown>[], o = opts()) => plan('errors', 'telemetry.vehicle_error.VehicleErrors', { errors }, o);
const planConn = (obj: Record<string, unknown>, o = opts()) => plan('connectivity', 'telemetry.vehicle_connectivity.VehicleConnectivity', obj, o);

const byTopic = (ps: Publish[]) => Object.fromEntries(ps.map((p) => [p.topic, p.payload]));
const sameJson = (a: string, b: string) => canonicalJson(a) === canonicalJson(b);

t.test('v/ topics: T/<VIN>/v/<Field>', async (t) => {
  const ps = planV([
    { key: 4, value: { float_value: 65.4 } },
    { key: 10, value: { shift_state_value: 5 } },
  ]);
  t.same(
    ps.map((p) => p.topic),
    [`${T}/${VIN}/v/VehicleSpeed`, `${T}/${VIN}/v/Gear`],
  );
  t.same(
    ps.map((p) => p.payload),
    ['{"value":65.4}', '{"value":"ShiftStateD"}'],
  );
  t.same(planV([]), [], 'no data, no publishes');
  t.same(planV([{ key: 4, value: { float_value: 1 } }], opts({ topicBase: 'a/b' }))[0].topic, `a/b/${VIN}/v/VehicleSpeed`, 'topic_base used as given');
});

t.test('a field appearing twice is published once, with its last value', async (t) => {
  const ps = planV([
    { key: 4, value: { float_value: 1 } },
    { key: 8, value: { float_value: 50 } },
    { key: 4, value: { float_value: 3 } },
    { key: 4, value: { string_value: 'last' } },
  ]);
  t.equal(ps.length, 2);
  const m = byTopic(ps);
  t.equal(m[`${T}/${VIN}/v/VehicleSpeed`], '{"value":"last"}');
  t.equal(m[`${T}/${VIN}/v/Soc`], '{"value":50}');
  const unknownTwice = planV([
    { key: 300, value: { int_value: 1 } },
    { key: 300, value: { int_value: 2 } },
  ]);
  t.same(
    unknownTwice.map((p) => [p.topic, p.payload]),
    [[`${T}/${VIN}/v/300`, '{"value":2}']],
    'unknown numbers too',
  );
});

t.test('an unknown Field number: the topic uses its decimal number', async (t) => {
  const ps = planV([
    { key: 300, value: { float_value: 2.5 } },
    { key: 0, value: { boolean_value: true } },
  ]);
  t.same(
    ps.map((p) => p.topic),
    [`${T}/${VIN}/v/300`, `${T}/${VIN}/v/Unknown`],
  );
  t.equal(ps[0].payload, '{"value":2.5}');
});

t.test('sanitising: every character a broker could refuse or read as structure becomes _', async (t) => {
  t.equal(sanitizeLevel('a/b+c#d\u0000e'), 'a_b_c_d_e');
  t.equal(sanitizeLevel('//++##\u0000\u0000'), '________');
  t.equal(sanitizeLevel('a.b c'), 'a_b_c', 'dot and space (NATS closes the connection on them)');
  for (let c = 0; c <= 0x1f; c++) t.equal(sanitizeLevel(`x${String.fromCharCode(c)}y`), 'x_y', `C0 U+${c.toString(16).padStart(4, '0')}`);
  for (let c = 0x7f; c <= 0x9f; c++) t.equal(sanitizeLevel(`x${String.fromCharCode(c)}y`), 'x_y', `DEL/C1 U+${c.toString(16).padStart(4, '0')}`);
  t.equal(sanitizeLevel('x\ud800y'), 'x_y', 'a lone high surrogate is not UTF-8');
  t.equal(sanitizeLevel('x\udc00y'), 'x_y', 'a lone low surrogate is not UTF-8');
  t.equal(sanitizeLevel('x\ud83d\ude97y'), 'x\ud83d\ude97y', 'a surrogate pair (🚗) stays');
  // mosquitto drops the connection on Unicode noncharacters too.
  for (const cp of [0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x1ffff, 0x10fffe, 0x10ffff, 0x5fffe]) {
    t.equal(sanitizeLevel(`x${String.fromCodePoint(cp)}y`), 'x_y', `noncharacter U+${cp.toString(16).toUpperCase()}`);
  }
  for (const cp of [0xfdcf, 0xfdf0, 0xfffd, 0x1fffd, 0x10fffd, 0x1f697]) {
    t.equal(sanitizeLevel(`x${String.fromCodePoint(cp)}y`), `x${String.fromCodePoint(cp)}y`, `U+${cp.toString(16).toUpperCase()} is a character`);
  }
  t.equal(sanitizeLevel('plain-Name_1 ü\u00a0é'), 'plain-Name_1_ü\u00a0é', 'other letters untouched');
  t.equal(sanitizeLevel(''), '');
  t.equal(sanitizeLevel('\u00a0\u2028'), '\u00a0\u2028', 'above U+009F nothing is replaced');

  const evilVin = 'VIN/+#\u0000X';
  const levels = (topic: string) => topic.split('/').length;
  const v = planV([{ key: 4, value: { float_value: 1 } }], opts(), evilVin);
  t.equal(v[0].topic, `${T}/VIN____X/v/VehicleSpeed`, 'VIN');

  const names = new TopicNames(T);
  t.equal(names.field(names.vehiclePrefix(VIN), 'Sp/ee+d#\u0000'), `${T}/${VIN}/v/Sp_ee_d__`, 'field name');

  const a = planAlerts([{ name: 'a/b+c#d\u0000e.f g\u007f', started_at: ts(1700000000) }]);
  t.same(
    a.map((p) => p.topic),
    [`${T}/${VIN}/alerts/a_b_c_d_e_f_g_/current`, `${T}/${VIN}/alerts/a_b_c_d_e_f_g_/history`],
    'alert name',
  );
  t.equal(JSON.parse(a[0].payload).Name, 'a/b+c#d\u0000e.f g\u007f', 'the payload keeps the real name');

  const e = planErrors([{ name: '#/+\u0000\u0001', body: 'b' }]);
  t.same(
    e.map((p) => p.topic),
    [`${T}/${VIN}/errors/_____`],
    'error name',
  );
  t.equal(JSON.parse(e[0].payload).Name, '#/+\u0000\u0001');

  for (const p of [...v, ...a, ...e]) {
    t.notMatch(p.topic.slice(T.length), /[+#.\s\u0000-\u001f\u007f-\u009f]/, `${p.topic}: nothing unsafe`);
    t.ok(p.topic.startsWith(`${T}/`), 'under topic_base');
  }
  t.equal(levels(v[0].topic), 4);
  t.equal(levels(a[0].topic), 5);
  t.equal(levels(e[0].topic), 4);
  t.equal(planConn({ connection_id: 'c', status: 1 }, opts())[0].topic, `${T}/${VIN}/connectivity`);
});

t.test('a topic level is at most 256 UTF-8 bytes: longer is an error naming the limit', async (t) => {
  t.equal(MAX_LEVEL_BYTES, 256);
  t.equal(topicLevel('a'.repeat(256), 'alert name'), 'a'.repeat(256), '256 ASCII bytes pass');
  t.throws(() => topicLevel('a'.repeat(257), 'alert name'), {
    permanent: true,
    message: /alert name "a{40}…" is 257 bytes as a topic level; the limit is 256/,
  });
  t.equal(topicLevel('é'.repeat(128), 'x'), 'é'.repeat(128), '128 two-byte letters are 256 bytes');
  t.throws(() => topicLevel('é'.repeat(128) + 'a', 'x'), TopicLevelError, '257 bytes with multi-byte letters');
  t.equal(topicLevel('€'.repeat(85) + 'a', 'x'), '€'.repeat(85) + 'a', '3-byte letters: 256 bytes');
  t.throws(() => topicLevel('€'.repeat(86), 'x'), TopicLevelError, '258 bytes');
  t.equal(topicLevel('\ud800'.repeat(200), 'x'), '_'.repeat(200), 'lone surrogates count as the _ they become');

  const long = 'A'.repeat(65_545);
  t.throws(() => planAlerts([{ name: long, started_at: ts(1700000000) }]), { permanent: true, message: /limit is 256/ }, 'alert');
  t.throws(() => planErrors([{ name: 'E'.repeat(300), body: 'b' }]), { permanent: true, message: /error name .* 300 bytes/ }, 'error');
  const V = lookupType('telemetry.vehicle_data.Payload');
  t.doesNotThrow(
    () => planPublishes(decodeRecord('V', V.encode(V.fromObject({ data: [{ key: 4, value: { floatValue: 1 } }] })).finish(), 'V'.repeat(256), 'tx'), opts()),
    'a 256-byte VIN',
  );
  t.throws(
    () => planPublishes(decodeRecord('V', V.encode(V.fromObject({ data: [{ key: 4, value: { floatValue: 1 } }] })).finish(), 'V'.repeat(257), 'tx'), opts()),
    { message: /VIN/ },
  );
});

t.test('certificate names: only [A-Za-z0-9_-] after . → -, so no two certificates share a VIN', async (t) => {
  t.same(vinFromCommonName('5YJ3.E1EA.7KF'), { ok: true, vin: '5YJ3-E1EA-7KF' });
  t.same(vinFromCommonName('5YJ3E1EA7KF000001'), { ok: true, vin: '5YJ3E1EA7KF000001' });
  t.same(vinFromCommonName('device_1-a'), { ok: true, vin: 'device_1-a' });
  for (const cn of ['AB+CD', 'AB#CD', 'AB\u0000CD', 'AB/CD', 'AB CD', 'ÄB', 'AB\u0001', 'AB\u007f', 'AB\u0085', 'AB\ud800', '🚗']) {
    const r = vinFromCommonName(cn);
    t.equal(r.ok, false, `${JSON.stringify(cn)} refused`);
    if (!r.ok) t.match(r.reason, /outside \[A-Za-z0-9_-\]/);
  }
  t.equal(vinFromCommonName('').ok, false, 'empty');
  t.equal(vinFromCommonName('A'.repeat(256)).ok, true);
  t.equal(vinFromCommonName('A'.repeat(257)).ok, false, 'longer than a level may be');
});

t.test('status topic: outside topic_base, the client id made a safe level, "" disables', async (t) => {
  t.equal(statusTopic(undefined, 'fleet-telemetry-host.example.com-12'), 'fleet-telemetry/fleet-telemetry-host_example_com-12/status');
  t.equal(statusTopic(undefined, 'a/b+#'), 'fleet-telemetry/a_b__/status');
  t.equal(statusTopic('site/ft/status', 'x'), 'site/ft/status');
  t.equal(statusTopic('', 'x'), undefined);
});

t.test('payload_format: value wraps, raw is the bare value', async (t) => {
  const data = [
    { key: 4, value: { float_value: 65.4 } },
    { key: 10, value: { shift_state_value: 5 } },
    { key: 21, value: { location_value: { latitude: 1.5, longitude: -2 } } },
    { key: 64, value: { string_value: 'Blue' } },
    { key: 59, value: { boolean_value: false } },
    { key: 5, value: {} },
  ];
  const wrapped = planV(data, opts({ payloadFormat: 'value' })).map((p) => p.payload);
  const raw = planV(data, opts({ payloadFormat: 'raw' })).map((p) => p.payload);
  t.same(raw, ['65.4', '"ShiftStateD"', '{"latitude":1.5,"longitude":-2}', '"Blue"', 'false', 'null']);
  t.same(
    wrapped,
    raw.map((r) => `{"value":${r}}`),
  );
  t.equal(defaultPlanOptions().payloadFormat, 'value', 'value is the default');
  for (const w of wrapped) t.same(Object.keys(JSON.parse(w)), ['value']);

  // The format concerns v/ topics only.
  const alerts = [{ name: 'A', started_at: ts(1700000000) }];
  t.same(planAlerts(alerts, opts({ payloadFormat: 'raw' })), planAlerts(alerts, opts()));
  const errors = [{ name: 'E', body: 'b' }];
  t.same(planErrors(errors, opts({ payloadFormat: 'raw' })), planErrors(errors, opts()));
});

t.test('qos and retain per kind of publish', async (t) => {
  const o = opts({
    v: { qos: 1, retain: true },
    alertsCurrent: { qos: 2, retain: true },
    alertsHistory: { qos: 1, retain: false },
    errors: { qos: 2, retain: false },
    connectivity: { qos: 1, retain: true },
  });
  t.match(planV([{ key: 4, value: { float_value: 1 } }], o)[0], { qos: 1, retain: true });
  const a = planAlerts([{ name: 'A', started_at: ts(1) }], o);
  t.match(a[0], { qos: 2, retain: true });
  t.match(a[1], { qos: 1, retain: false });
  t.match(planErrors([{ name: 'E' }], o)[0], { qos: 2, retain: false });
  t.match(planConn({ status: 1 }, o)[0], { qos: 1, retain: true });
  t.match(planV([{ key: 4, value: { float_value: 1 } }])[0], { qos: 0, retain: false }, 'defaults: qos 0, not retained');
});

t.test('alerts: current is the latest started_at, history in order', async (t) => {
  const ps = planAlerts([
    { name: 'X', audiences: [1], started_at: ts(1700000300) },
    { name: 'X', audiences: [2], started_at: ts(1700000600), ended_at: ts(1700000700) },
    { name: 'X', audiences: [3], started_at: ts(1700000100) },
  ]);
  t.same(
    ps.map((p) => p.topic),
    [`${T}/${VIN}/alerts/X/current`, `${T}/${VIN}/alerts/X/history`],
  );
  t.ok(sameJson(ps[0].payload, '{"Name":"X","StartedAt":"2023-11-14T22:23:20Z","EndedAt":"2023-11-14T22:25:00Z","Audiences":["Service"]}'), ps[0].payload);
  const history = JSON.parse(ps[1].payload) as { StartedAt: string; Audiences: string[] }[];
  t.same(
    history.map((h) => h.StartedAt),
    ['2023-11-14T22:18:20Z', '2023-11-14T22:23:20Z', '2023-11-14T22:15:00Z'],
    'history in record order',
  );
  t.same(
    history.map((h) => h.Audiences),
    [['Customer'], ['Service'], ['ServiceFix']],
  );
});

t.test('alerts: the first of equal started_at values is current', async (t) => {
  const ps = planAlerts([
    { name: 'X', audiences: [1], started_at: ts(1700000000) },
    { name: 'X', audiences: [2], started_at: ts(1700000000) },
    { name: 'X', audiences: [3], started_at: ts(1699999999) },
  ]);
  t.same(JSON.parse(ps[0].payload).Audiences, ['Customer']);
  // Nanos break the tie before "first" does.
  const n = planAlerts([
    { name: 'X', audiences: [1], started_at: ts(1700000000, 1) },
    { name: 'X', audiences: [2], started_at: ts(1700000000, 2) },
  ]);
  t.same(JSON.parse(n[0].payload).Audiences, ['Service']);
  // An alert without started_at never beats one with it, wherever it stands.
  const m = planAlerts([
    { name: 'X', audiences: [1] },
    { name: 'X', audiences: [2], started_at: ts(5) },
    { name: 'X', audiences: [3] },
  ]);
  t.same(JSON.parse(m[0].payload).Audiences, ['Service']);
});

t.test('alerts: no current when none has started_at', async (t) => {
  const ps = planAlerts([
    { name: 'Y', audiences: [1] },
    { name: 'Y', ended_at: ts(1700000000) },
  ]);
  t.same(
    ps.map((p) => p.topic),
    [`${T}/${VIN}/alerts/Y/history`],
  );
  const h = JSON.parse(ps[0].payload) as Record<string, unknown>[];
  t.same(h, [
    { Name: 'Y', Audiences: ['Customer'] },
    { Name: 'Y', EndedAt: '2023-11-14T22:13:20Z', Audiences: [] },
  ]);
  t.notOk('StartedAt' in h[0], 'StartedAt omitted when absent');
});

t.test('alerts: several names, each with its own topics', async (t) => {
  const ps = planAlerts([{ name: 'A', started_at: ts(1700000000) }, { name: 'B' }, { name: 'A', started_at: ts(1700000001) }]);
  const m = byTopic(ps);
  t.same(Object.keys(m).sort(), [`${T}/${VIN}/alerts/A/current`, `${T}/${VIN}/alerts/A/history`, `${T}/${VIN}/alerts/B/history`]);
  t.equal(JSON.parse(m[`${T}/${VIN}/alerts/A/history`]).length, 2);
  t.equal(JSON.parse(m[`${T}/${VIN}/alerts/A/current`]).StartedAt, '2023-11-14T22:13:21Z');
  t.same(planAlerts([]), [], 'no alerts, no publishes');
});

t.test('alerts: seconds ≥ 315,576,000,000 are milliseconds', async (t) => {
  const ps = planAlerts([{ name: 'M', started_at: ts('1700000100000'), ended_at: ts('1700000200999') }]);
  const cur = JSON.parse(ps[0].payload);
  t.equal(cur.StartedAt, '2023-11-14T22:15:00Z', 'started_at in ms');
  t.equal(cur.EndedAt, '2023-11-14T22:16:40Z', 'ended_at in ms, to the second');
  t.same(JSON.parse(ps[1].payload)[0], cur, 'history too');

  const boundary = planAlerts([{ name: 'B', started_at: ts('315576000000') }]);
  t.equal(JSON.parse(boundary[0].payload).StartedAt, new Date(315576000000).toISOString().slice(0, 19) + 'Z', 'the threshold itself is ms');
  t.equal(JSON.parse(boundary[0].payload).StartedAt, '1980-01-01T12:00:00Z');

  // Just below the threshold it is seconds: far in the future, so it is the latest.
  const mixed = planAlerts([
    { name: 'C', audiences: [1], started_at: ts('1700000000000') },
    { name: 'C', audiences: [2], started_at: ts('315575999999') },
  ]);
  t.same(JSON.parse(mixed[0].payload).Audiences, ['Service'], '315,575,999,999 is read as seconds');

  // ms and seconds compare as instants.
  const cmp = planAlerts([
    { name: 'D', audiences: [1], started_at: ts(1700000001) },
    { name: 'D', audiences: [2], started_at: ts('1700000000500') },
  ]);
  t.same(JSON.parse(cmp[0].payload).Audiences, ['Customer'], '1700000001 s is after 1700000000500 ms');

  t.same(alertInstant({ seconds: 315_575_999_999n, nanos: 7 }), { seconds: 315_575_999_999n, nanos: 7 });
  t.same(alertInstant({ seconds: 315_576_000_000n, nanos: 0 }), { seconds: 315_576_000n, nanos: 0 });
  t.same(alertInstant({ seconds: 1_700_000_000_123n, nanos: 0 }), { seconds: 1_700_000_000n, nanos: 123_000_000 });
});

t.test('alerts: Audiences', async (t) => {
  const ps = planAlerts([
    { name: 'A', started_at: ts(1700000000) },
    { name: 'A', audiences: [1, 2, 3, 0], started_at: ts(1) },
    { name: 'A', audiences: [9], started_at: ts(2) },
  ]);
  const h = JSON.parse(ps[1].payload);
  t.same(h[0].Audiences, [], '[] when none');
  t.same(h[1].Audiences, ['Customer', 'Service', 'ServiceFix', 'Unknown']);
  t.same(h[2].Audiences, ['9'], 'an unknown audience number as its decimal string');
  t.same(Object.keys(h[0]).sort(), ['Audiences', 'Name', 'StartedAt'], 'EndedAt omitted when absent');
});

t.test('alerts: timestamps are RFC 3339 UTC to the second', async (t) => {
  const ps = planAlerts([{ name: 'A', started_at: ts(1700000000, 999_999_999), ended_at: ts(0) }]);
  const cur = JSON.parse(ps[0].payload);
  t.equal(cur.StartedAt, '2023-11-14T22:13:20Z', 'nanos dropped');
  t.equal(cur.EndedAt, '1970-01-01T00:00:00Z', 'the epoch is a time too');
  t.equal(rfc3339({ seconds: 951782400n, nanos: 0 }), '2000-02-29T00:00:00Z');
  t.equal(rfc3339({ seconds: -1n, nanos: 0 }), '1969-12-31T23:59:59Z');
  t.equal(rfc3339({ seconds: 253402300799n, nanos: 0 }), '9999-12-31T23:59:59Z');
  t.equal(rfc3339({ seconds: 253402300800n, nanos: 0 }), undefined, 'year 10000 cannot be written');
  t.equal(rfc3339({ seconds: -62167219201n, nanos: 0 }), undefined, 'before year 0');
  t.equal(rfc3339({ seconds: 2n ** 63n - 1n, nanos: 0 }), undefined);
  t.ok(compareInstants({ seconds: 1n, nanos: 5 }, { seconds: 1n, nanos: 4 }) > 0);
  t.ok(compareInstants({ seconds: 1n, nanos: 0 }, { seconds: 2n, nanos: 0 }) < 0);
  t.equal(compareInstants({ seconds: 3n, nanos: 3 }, { seconds: 3n, nanos: 3 }), 0);
});

t.test('errors: one publish per error, Tags {} when none, CreatedAt omitted when absent', async (t) => {
  const ps = planErrors([
    { name: 'CAN_timeout', body: 'bus 2 silent', tags: { bus: '2', ecu: 'VCFRONT' }, created_at: ts(1700000400) },
    { name: 'Plain' },
    { name: 'CAN_timeout', body: 'again' },
  ]);
  t.same(
    ps.map((p) => p.topic),
    [`${T}/${VIN}/errors/CAN_timeout`, `${T}/${VIN}/errors/Plain`, `${T}/${VIN}/errors/CAN_timeout`],
  );
  t.ok(
    sameJson(ps[0].payload, '{"Name":"CAN_timeout","Body":"bus 2 silent","Tags":{"bus":"2","ecu":"VCFRONT"},"CreatedAt":"2023-11-14T22:20:00Z"}'),
    ps[0].payload,
  );
  const plain = JSON.parse(ps[1].payload);
  t.same(plain, { Name: 'Plain', Body: '', Tags: {} });
  t.notOk('CreatedAt' in plain, 'CreatedAt omitted when absent');
  t.equal(JSON.parse(ps[2].payload).Body, 'again');
  t.same(planErrors([]), []);
  // Tag keys that are special in JavaScript are ordinary keys here (map entry built by hand).
  const key = [...new TextEncoder().encode('__proto__')];
  const entry = [0x0a, key.length, ...key, 0x12, 1, 0x78];
  const err = [0x1a, entry.length, ...entry, 0x12, 1, 0x45];
  const odd = planPublishes(decodeRecord('errors', Uint8Array.from([0x0a, err.length, ...err]), VIN, 'tx'), opts());
  t.equal(odd[0].payload, '{"Name":"E","Body":"","Tags":{"__proto__":"x"}}', 'a __proto__ tag is kept as a tag');
  t.equal(JSON.parse(planErrors([{ name: 'E', tags: { constructor: 'c', toString: 't' } }])[0].payload).Tags.toString, 't');
  // Seconds are seconds here: the milliseconds rule is for alerts.
  t.equal(JSON.parse(planErrors([{ name: 'E', created_at: ts('1700000000000') }])[0].payload).CreatedAt, undefined, 'no ms reading for errors');
});

t.test('connectivity: ConnectionId, Status, CreatedAt', async (t) => {
  const id = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
  for (const [status, name] of [
    [1, 'CONNECTED'],
    [2, 'DISCONNECTED'],
  ] as const) {
    const ps = planConn({ vin: 'OTHER', connection_id: id, status, created_at: ts(1700000000), network_interface: 'wifi' });
    t.equal(ps.length, 1);
    t.equal(ps[0].topic, `${T}/${VIN}/connectivity`);
    const o = JSON.parse(ps[0].payload);
    t.same(Object.keys(o).sort(), ['ConnectionId', 'CreatedAt', 'Status'], 'exactly these keys');
    t.same(o, { ConnectionId: id, Status: name, CreatedAt: '2023-11-14T22:13:20Z' });
  }
  const bare = JSON.parse(planConn({ connection_id: id, status: 1 })[0].payload);
  t.same(Object.keys(bare).sort(), ['ConnectionId', 'Status'], 'CreatedAt omitted when absent');
});
