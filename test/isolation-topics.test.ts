import t, { type Test } from 'tap';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { isStatusTopic, startServer, type LogLine, type ServerProcess } from './helpers/server.js';
import { subscribe, type Received } from './helpers/subscriber.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { alertsFrame, errorsFrame, NATS_BINARY, outcome, startNats, upgradeOutcome, utf8Bytes } from './helpers/isolation.js';

// One vehicle's data must never leave its own topics, add a level or a wildcard, carry a character
// a broker refuses (mosquitto and NATS drop the whole connection for that, and every other vehicle
// with it), or overflow the topic length (contract §1 identity, §5 topic levels). A vehicle's
// certificate common name is a topic level too: one that is not safe is refused at the upgrade.

const ATTACKER = '5YJ3E1EA7KF0ISO01';
const VICTIM = '5YJ3E1EA7KF0ISO02';
const CLIENT_ID = 'ft-iso';
const STATUS_TOPIC = `fleet-telemetry/${CLIENT_ID}/status`;
const speed = (v: number) => [
  { key: 'VehicleSpeed', value: { float_value: v } },
  { key: 'Odometer', value: { double_value: v * 10 } },
];

// Each must become `_` in a topic level (§5).
const UNSAFE: [string, string][] = [
  ['u0001', '\u0001'],
  ['u001F', '\u001f'],
  ['u007F', '\u007f'],
  ['u0085', '\u0085'],
  ['u009F', '\u009f'],
  ['slash', '/'],
  ['plus', '+'],
  ['hash', '#'],
  ['NUL', '\u0000'],
  ['dot', '.'],
  ['space', ' '],
];

function serverConfig(pki: TestPki, broker: string, mqtt: Record<string, unknown> = {}) {
  return {
    records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker, topic_base: 'tb', qos: 1, client_id: CLIENT_ID, publish_timeout_ms: 2000, connect_retry_interval_ms: 200, ...mqtt },
  };
}

/**
 * Topics that break isolation: outside `tb/<VIN>/` of a known vehicle (the status topic aside),
 * with the wrong number of levels for their kind, with an unsafe character left in a level, a
 * level over 256 bytes, or a payload that is not JSON.
 */
function badTopics(messages: Received[], vins: string[], statusTopic = STATUS_TOPIC): string[] {
  const bad: string[] = [];
  for (const m of messages) {
    // A broker's own topics (NATS shows its $JS/$MQTT internals to a `#` subscriber) are not ours.
    if (isStatusTopic(m.topic, statusTopic) || m.topic.startsWith('$')) continue;
    const vin = vins.find((v) => m.topic.startsWith(`tb/${v}/`));
    if (!vin) {
      bad.push(`outside tb/<VIN>/: ${JSON.stringify(m.topic)}`);
      continue;
    }
    const levels = m.topic.split('/');
    const want = { v: 4, alerts: 5, errors: 4, connectivity: 3, presence: 3 }[levels[2]] ?? -1;
    if (levels.length !== want) bad.push(`${levels.length} levels: ${JSON.stringify(m.topic)}`);
    if (/[\u0000-\u001f\u007f-\u009f.+# ]/.test(m.topic)) bad.push(`unsafe character: ${JSON.stringify(m.topic)}`);
    if (levels.some((l) => utf8Bytes(l) > 256)) bad.push(`level over 256 bytes: ${m.topic.slice(0, 80)}…`);
    try {
      JSON.parse(m.payload);
    } catch {
      bad.push(`payload not JSON on ${JSON.stringify(m.topic)}`);
    }
  }
  return bad;
}

/** Every string in a log line, nested objects and arrays included. */
const strings = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v as Record<string, unknown>).flatMap(strings) : [];

/** A CN as a readable key: control characters as \uXXXX. */
const label = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const disconnects = (s: ServerProcess) => s.logs.filter((l) => l.event === 'mqtt_disconnected').length;

async function setup(t: Test) {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const sub = await subscribe(mosq.url, '#');
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const attacker = await connectVehicle(server.port, await pki.vehicle(ATTACKER), pki.ca.certPem);
  const victim = await connectVehicle(server.port, await pki.vehicle(VICTIM), pki.ca.certPem);
  victim.send(vFrame('victim-warm', VICTIM, speed(0)));
  t.equal(await outcome(victim, 'victim-warm', 5000), 'ack', 'the victim is acked before anything hostile');
  const teardown = async () => {
    await attacker.close();
    await victim.close();
    await server.stop();
    await sub.close();
    await mosq.stop();
  };
  return { dir, pki, mosq, sub, server, attacker, victim, teardown };
}

t.test('unsafe characters in alert, error and field names become _; acked; the broker link never drops', async (t) => {
  const { sub, server, attacker, victim, teardown } = await setup(t);
  const got: Record<string, string> = {};
  const want: Record<string, string> = {};
  const expectedTopics: string[] = [];
  let vseq = 0;
  for (const [label, c] of UNSAFE) {
    const alert = `al-${label}${c}x${c}`;
    const error = `er-${label}${c}x`;
    const safe = (s: string) => s.split(c).join('_');
    expectedTopics.push(`tb/${ATTACKER}/alerts/${safe(alert)}/current`, `tb/${ATTACKER}/alerts/${safe(alert)}/history`, `tb/${ATTACKER}/errors/${safe(error)}`);
    attacker.send(alertsFrame(`al-${label}`, ATTACKER, [alert]));
    attacker.send(errorsFrame(`er-${label}`, ATTACKER, [error]));
    const vtx = `victim-${vseq++}`;
    victim.send(vFrame(vtx, VICTIM, speed(vseq)));
    const [a, e, v] = await Promise.all([outcome(attacker, `al-${label}`, 3000), outcome(attacker, `er-${label}`, 3000), outcome(victim, vtx, 1000)]);
    got[`alert ${label}`] = a;
    got[`error ${label}`] = e;
    got[`victim after ${label}`] = v;
    want[`alert ${label}`] = want[`error ${label}`] = want[`victim after ${label}`] = 'ack';
  }
  // A field number the schema does not know is published under its decimal number.
  attacker.send(vFrame('unknown-field', ATTACKER, [{ key: 9999, value: { int_value: 7 } }, ...speed(1)]));
  got['unknown field'] = await outcome(attacker, 'unknown-field', 3000);
  want['unknown field'] = 'ack';
  expectedTopics.push(`tb/${ATTACKER}/v/9999`);

  t.same(got, want, 'every hostile frame is acked, and the victim is acked within 1 s after each');
  await sub.waitFor((m) => expectedTopics.every((x) => m.some((r) => r.topic === x)), 5000, 'the sanitised topics').catch(() => {});
  const seen = new Set(sub.messages.map((m) => m.topic));
  t.same(
    expectedTopics.filter((x) => !seen.has(x)).map((x) => JSON.stringify(x)),
    [],
    'each unsafe character is published as _',
  );
  t.equal(disconnects(server), 0, 'no mqtt_disconnected: the broker never dropped the server');
  t.same(badTopics(sub.messages, [ATTACKER, VICTIM]), [], 'every topic stays under tb/<VIN>/ with safe levels');
  t.ok(
    sub.messages.some((m) => isStatusTopic(m.topic, STATUS_TOPIC) && m.payload === 'online'),
    `the server status is on ${STATUS_TOPIC}, outside topic_base`,
  );
  await teardown();
});

t.test('a level over 256 UTF-8 bytes after sanitising: error naming 256, nothing of the record published', async (t) => {
  const { sub, server, attacker, victim, teardown } = await setup(t);
  const a = (n: number) => 'a'.repeat(n);
  const published: [string, string, string][] = [
    // [txid, name as sent, level as published]
    ['exact-256', `X${a(255)}`, `X${a(255)}`],
    ['exact-256-utf8', `E${'é'.repeat(127)}e`, `E${'é'.repeat(127)}e`],
    ['256-after-sanitising', `S${a(254)}\u0085`, `S${a(254)}_`],
  ];
  const refused: [string, string[]][] = [
    ['257-bytes', [`L${a(256)}`]],
    ['300-chars', [`M${a(299)}`]],
    ['65545-bytes', [`H${a(65544)}`]],
    ['utf8-258-bytes', [`U${'é'.repeat(128)}x`]],
    ['long-beside-fine', ['fine-in-long', `N${a(299)}`]],
  ];
  for (const [, , level] of published) t.equal(utf8Bytes(level), 256, `${JSON.stringify(level.slice(0, 3))}… is 256 bytes`);
  t.equal(utf8Bytes(refused[2][1][0]), 65545);

  const got: Record<string, string> = {};
  const want: Record<string, string> = {};
  let vseq = 0;
  const victimAfter = async () => {
    const vtx = `victim-${vseq++}`;
    victim.send(vFrame(vtx, VICTIM, speed(vseq)));
    return vtx;
  };
  for (const [txid, name] of published) {
    attacker.send(alertsFrame(txid, ATTACKER, [name]));
    const vtx = await victimAfter();
    const [r, v] = await Promise.all([outcome(attacker, txid, 3000), outcome(victim, vtx, 1000)]);
    got[txid] = r;
    want[txid] = 'ack';
    got[`victim after ${txid}`] = v;
    want[`victim after ${txid}`] = 'ack';
  }
  const reasons: Record<string, string> = {};
  for (const [txid, names] of refused) {
    attacker.send(alertsFrame(`alerts-${txid}`, ATTACKER, names));
    attacker.send(errorsFrame(`errors-${txid}`, ATTACKER, names));
    const vtx = await victimAfter();
    const [ra, re, v] = await Promise.all([outcome(attacker, `alerts-${txid}`, 3000), outcome(attacker, `errors-${txid}`, 3000), outcome(victim, vtx, 1000)]);
    got[`alerts-${txid}`] = ra;
    got[`errors-${txid}`] = re;
    want[`alerts-${txid}`] = want[`errors-${txid}`] = 'error';
    got[`victim after ${txid}`] = v;
    want[`victim after ${txid}`] = 'ack';
    for (const k of [`alerts-${txid}`, `errors-${txid}`]) {
      const r = attacker.responses.find((x) => x.txid === k);
      if (r?.kind === 'error') reasons[k] = r.reason ?? '';
    }
  }
  t.same(got, want, 'names of 256 bytes acked, longer ones answered with an error, the victim always acked within 1 s');
  t.same(
    Object.entries(reasons).filter(([, r]) => !/256/.test(r)),
    [],
    'each error reason names the limit (256)',
  );
  await sleep(500);
  const seen = new Set(sub.messages.map((m) => m.topic));
  const missing = published
    .flatMap(([, , level]) => [`tb/${ATTACKER}/alerts/${level}/current`, `tb/${ATTACKER}/alerts/${level}/history`])
    .filter((x) => !seen.has(x));
  t.same(
    missing.map((x) => x.slice(0, 60) + '…'),
    [],
    'a 256-byte level is published',
  );
  const leaked = [...seen].filter((x) => /\/(alerts|errors)\/(fine-in-long|[LMHUN])/.test(x)).map((x) => x.slice(0, 60) + '…');
  t.same(leaked, [], 'nothing of a refused record is published, not even its fine alert');
  t.equal(disconnects(server), 0, 'no mqtt_disconnected');
  t.same(
    badTopics(sub.messages, [ATTACKER, VICTIM]).map((x) => x.slice(0, 120)),
    [],
    'every topic stays under tb/<VIN>/ with safe levels',
  );
  await teardown();
});

t.test('certificate CN: an unsafe one is refused with 403 and a warn line; AB.CD is VIN AB-CD', async (t) => {
  const { pki, sub, server, teardown } = await setup(t);
  const refused = ['AB+CD', 'AB#CD', 'AB CD', 'AB/CD', 'ÄB', 'AB\u0001CD', 'AB\u007fCD'];
  const status: Record<string, unknown> = {};
  const logged: Record<string, boolean> = {};
  for (const cn of refused) {
    const key = label(cn);
    status[key] = await upgradeOutcome(server.port, await pki.vehicle(cn), pki.ca.certPem);
    // The line names the CN (control characters may be escaped, so its printable pieces) and issuer.
    const pieces = cn.split(/[\u0000-\u001f\u007f-\u009f]/);
    const names = (l: LogLine) => {
      const text = JSON.stringify(l);
      const plain = strings(l).join('\n');
      return pieces.every((p) => plain.includes(p)) && text.includes('Test Fleet CA');
    };
    logged[key] = await server
      .waitForLog((l) => l.event === 'vehicle_refused' && l.level === 40 && names(l), 3000)
      .then(() => true)
      .catch(() => false);
  }
  t.same(status, Object.fromEntries(refused.map((cn) => [label(cn), 403])), 'each is refused at the upgrade with 403');
  t.same(logged, Object.fromEntries(refused.map((cn) => [label(cn), true])), 'each gets a warn line vehicle_refused naming the CN and its issuer');
  t.notOk(
    server.logs.some((l) => l.event === 'vehicle_connected' && refused.includes(String(l.vin))),
    'no refused certificate became a session',
  );

  const dotted = await connectVehicle(server.port, await pki.vehicle('AB.CD'), pki.ca.certPem);
  dotted.send(vFrame('dotted-1', 'AB.CD', speed(3)));
  t.equal(await outcome(dotted, 'dotted-1', 5000), 'ack', 'a CN with a dot is accepted');
  await sub.waitFor((m) => m.some((x) => x.topic === 'tb/AB-CD/v/VehicleSpeed'), 5000).catch(() => {});
  t.ok(
    sub.messages.some((x) => x.topic === 'tb/AB-CD/v/VehicleSpeed'),
    'and published as VIN AB-CD',
  );
  t.same(badTopics(sub.messages, [ATTACKER, VICTIM, 'AB-CD']), [], 'every topic stays under tb/<VIN>/');
  await dotted.close();
  await teardown();
});

t.test(
  'NATS: a client id with a dot connects; an alert named "a.b c" is acked as a_b_c; no disconnect',
  { skip: NATS_BINARY ? false : 'nats-server is not installed' },
  async (t) => {
    const dir = t.testdir();
    const pki = await makePki(dir);
    const nats = await startNats(dir);
    const sub = await subscribe(nats.url, '#');
    const clientId = 'ft.host.example';
    const server = await startServer(dir, serverConfig(pki, `127.0.0.1:${nats.mqttPort}`, { client_id: clientId }));
    const connected = await server
      .waitForLog((l) => l.event === 'mqtt_connected', 15_000)
      .then(() => true)
      .catch(() => false);
    t.ok(connected, `connected to NATS as ${clientId} (mqtt_connected)`);
    const v = await connectVehicle(server.port, await pki.vehicle(ATTACKER), pki.ca.certPem);
    v.send(alertsFrame('nats-1', ATTACKER, ['a.b c']));
    v.send(vFrame('nats-2', ATTACKER, speed(5)));
    t.same([await outcome(v, 'nats-1', 5000), await outcome(v, 'nats-2', 3000)], ['ack', 'ack'], 'both frames acked');
    const topic = `tb/${ATTACKER}/alerts/a_b_c/current`;
    await sub.waitFor((m) => m.some((x) => x.topic === topic), 5000).catch(() => {});
    t.ok(
      sub.messages.some((x) => x.topic === topic),
      `published on ${topic}`,
    );
    t.equal(disconnects(server), 0, 'no mqtt_disconnected');
    const status = 'fleet-telemetry/ft_host_example/status';
    t.same(badTopics(sub.messages, [ATTACKER], status), [], 'every topic stays under tb/<VIN>/');
    if (t.passing() === false) t.comment(`nats-server said: ${nats.stderr().slice(-1500)}`);
    await v.close();
    await server.stop();
    await sub.close();
    await nats.stop();
  },
);

t.test('Unicode noncharacters in names (mosquitto refuses them in a topic): answered, and the broker link survives', async (t) => {
  // §5: no publish carries "a character a broker refuses". mosquitto 2 closes the connection on
  // U+FDD0–U+FDEF and U+xFFFE/U+xFFFF in a topic, as on control characters. The contract does not
  // say whether they become `_` or the record is refused, so either answer passes; silence and a
  // dropped broker connection do not.
  const { sub, server, attacker, victim, teardown } = await setup(t);
  const NONCHARACTERS: [string, string][] = [
    ['uFDD0', '\ufdd0'],
    ['uFDEF', '\ufdef'],
    ['uFFFE', '\ufffe'],
    ['uFFFF', '\uffff'],
    ['u1FFFE', '\u{1fffe}'],
    ['u10FFFF', '\u{10ffff}'],
  ];
  const got: Record<string, string> = {};
  let vseq = 0;
  for (const [label, c] of NONCHARACTERS) {
    attacker.send(alertsFrame(`nc-al-${label}`, ATTACKER, [`nc${c}x`]));
    attacker.send(errorsFrame(`nc-er-${label}`, ATTACKER, [`nc${c}y`]));
    const vtx = `victim-${vseq++}`;
    victim.send(vFrame(vtx, VICTIM, speed(vseq)));
    const [a, e, v] = await Promise.all([outcome(attacker, `nc-al-${label}`, 3000), outcome(attacker, `nc-er-${label}`, 3000), outcome(victim, vtx, 1000)]);
    got[`alert ${label}`] = a === 'none' ? 'none' : 'answered';
    got[`error ${label}`] = e === 'none' ? 'none' : 'answered';
    got[`victim after ${label}`] = v;
  }
  t.same(
    got,
    Object.fromEntries(
      NONCHARACTERS.flatMap(([l]) => [
        [`alert ${l}`, 'answered'],
        [`error ${l}`, 'answered'],
        [`victim after ${l}`, 'ack'],
      ]),
    ),
    'each frame gets an ack or an error, and the victim is acked within 1 s after each',
  );
  await sleep(300);
  t.equal(disconnects(server), 0, 'no mqtt_disconnected');
  t.same(
    sub.messages.filter((m) => /[\ufdd0-\ufdef\ufffe\uffff]|[\ud800-\udbff][\udffe\udfff]/.test(m.topic)).map((m) => JSON.stringify(m.topic)),
    [],
    'no topic carries a noncharacter',
  );
  t.same(badTopics(sub.messages, [ATTACKER, VICTIM]), [], 'every topic stays under tb/<VIN>/ with safe levels');
  await teardown();
});
