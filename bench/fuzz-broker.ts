/**
 * make fuzz: N seeded random and bit-flipped frames (V, alerts, errors with hostile names: control
 * characters, / + # . and spaces, names around and far over 256 bytes, non-ASCII) through the real
 * server to a real mosquitto. Counts the responses (ack / error / unanswered), the broker
 * disconnects the server logs (`mqtt_disconnected`), the topics a `#` subscriber sees outside
 * `<topic_base>/<VIN>/` of a connected vehicle, and the bytes the server logged. One summary
 * line; exit 1 when the broker dropped the server or a topic escaped. See bench/README.md.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Long from 'long';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { peekTxid, writeOtherFrame, writeStreamFrame } from '../src/envelope/index.js';
import { lookupType } from '../src/record/schema.js';
import { makePki } from '../test/helpers/pki.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { sleep } from './lib/net.js';
import { rssKb } from './lib/proc.js';
import { launchServer } from './lib/server.js';

const SPEC = {
  frames: { type: 'number', default: 1_000_000, min: 1, max: 100_000_000, int: true, help: 'frames to send in all' },
  seed: { type: 'number', default: 20240611, int: true, help: 'PRNG seed: the same seed sends the same frames' },
  vehicles: { type: 'number', default: 4, min: 1, max: 200, int: true, help: 'vehicle connections the frames are spread over' },
  window: { type: 'number', default: 32, min: 1, max: 10_000, int: true, help: 'frames without a response per vehicle' },
  'unanswered-ms': { type: 'number', default: 5000, min: 100, help: 'a frame with no response after this long frees its window slot' },
  'max-seconds': { type: 'number', default: 3600, min: 5, help: 'stop sending after this long whatever the count' },
  'log-level': {
    type: 'string',
    default: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error'],
    help: "the server's log level (log bytes are counted)",
  },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const TITLE = 'bench/fuzz-broker.ts: seeded hostile frames through the real server to a real mosquitto';
const flags = flagsOrExit(process.argv.slice(2), SPEC, TITLE);
const N = flags.frames!;
const SEED = flags.seed!;
const K = flags.vehicles!;
const W = flags.window!;
const UNANSWERED_MS = flags['unanswered-ms']!;
const TOPIC_BASE = 'fz';
const CLIENT_ID = 'ft-fuzz';
const STATUS_TOPIC = `fleet-telemetry/${CLIENT_ID}/status`;
const log = (s: string) => process.stderr.write(`${s}\n`);
deadlineExit((flags['max-seconds']! + 180) * 1000, 'fuzz');

// ---- seeded generation -------------------------------------------------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0; // mulberry32
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)];
const chance = (p: number) => rnd() < p;

const UNSAFE = ['\u0000', '\u0001', '\u0007', '\u001b', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '/', '+', '#', '.', ' ', '\t', '\n', '\r'];
const OTHER = ['Ä', 'é', 'ü', '😀', '\u00a0', '\u2028', '\ufeff', '-', '_', '$', '%', '*', '"', '\\'];
const COMMON = ['ChargePortFault', 'CAN_timeout', 'BMS_w123', 'UI_a020_SleepModeSoon', 'VCFRONT_a192', 'x', 'a.b c', '$SYS', 'alerts', 'v'];

/** A name as a vehicle might send one, or far worse. */
function hostileName(): string {
  const r = rnd();
  if (r < 0.25) return pick(COMMON);
  if (r < 0.7) {
    const chars = [...pick(COMMON)];
    for (let i = 1 + int(4); i > 0; i--) chars.splice(int(chars.length + 1), 0, chance(0.8) ? pick(UNSAFE) : pick(OTHER));
    return chars.join('');
  }
  if (r < 0.88) {
    // Around the 256-byte bound: before and after sanitising, one- and two-byte characters.
    const target = pick([250, 255, 256, 257, 258, 300, 512, 1000]);
    let s = pick(['L', 'M', 'N']);
    while (Buffer.byteLength(s) < target) s += chance(0.9) ? 'a' : chance(0.5) ? pick(UNSAFE) : pick(OTHER);
    return s;
  }
  if (r < 0.882) return 'H' + 'a'.repeat(65_544); // past an MQTT topic's 65,535 bytes
  if (r < 0.9) return '';
  return Array.from({ length: 1 + int(20) }, () => String.fromCodePoint(chance(0.5) ? int(0x100) : int(0x11000))).join('');
}

const ts = () => ({ seconds: Long.fromNumber(chance(0.1) ? int(2 ** 31) * 1000 : 1_700_000_000 + int(1e6)), nanos: int(1e9) });

const FIELD_KEYS = Object.values((lookupType('telemetry.vehicle_data.Datum').fields.key.resolvedType as unknown as { values: Record<string, number> }).values);

function randomValue(): Record<string, unknown> {
  switch (int(10)) {
    case 0:
      return { string_value: chance(0.3) ? hostileName() : pick(['5.0e-3', '(37.4 N, 122.1 W)', 'Blue', '1e-3', '']) };
    case 1:
      return { int_value: int(2 ** 31) - 2 ** 30 };
    case 2:
      return { long_value: Long.fromBits(int(2 ** 32), int(2 ** 32) | 0) };
    case 3:
      return { float_value: pick([65.4, NaN, Infinity, -0, 1e-7, 3.4e38]) };
    case 4:
      return { double_value: (rnd() - 0.5) * 10 ** int(30) };
    case 5:
      return { boolean_value: chance(0.5) };
    case 6:
      return { location_value: { latitude: rnd() * 180 - 90, longitude: rnd() * 360 - 180 } };
    case 7:
      return { door_value: { DriverFront: chance(0.5), TrunkRear: chance(0.5) } };
    case 8:
      return { shift_state_value: int(10) };
    default:
      return {};
  }
}

function encode(type: string, obj: Record<string, unknown>): Uint8Array {
  const ty = lookupType(type);
  return ty.encode(ty.fromObject(obj)).finish();
}

function vPayload(vin: string): Uint8Array {
  const data = Array.from({ length: 1 + int(50) }, () => ({ key: chance(0.9) ? pick(FIELD_KEYS) : 300 + int(100_000), value: randomValue() }));
  return encode('telemetry.vehicle_data.Payload', { data, created_at: ts(), vin: chance(0.9) ? vin : hostileName() });
}

function alertsPayload(vin: string): Uint8Array {
  const alerts = Array.from({ length: 1 + int(5) }, () => ({
    name: hostileName(),
    audiences: Array.from({ length: int(3) }, () => int(5)),
    ...(chance(0.8) ? { started_at: ts() } : {}),
    ...(chance(0.3) ? { ended_at: ts() } : {}),
  }));
  return encode('telemetry.vehicle_alerts.VehicleAlerts', { alerts, created_at: ts(), vin });
}

function errorsPayload(vin: string): Uint8Array {
  const errors = Array.from({ length: 1 + int(5) }, () => ({
    name: hostileName(),
    body: chance(0.5) ? hostileName() : 'body',
    tags: Object.fromEntries(Array.from({ length: int(3) }, () => [hostileName().slice(0, 40), hostileName().slice(0, 40)])),
    ...(chance(0.7) ? { created_at: ts() } : {}),
  }));
  return encode('telemetry.vehicle_error.VehicleErrors', { errors, created_at: ts(), vin });
}

const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));

/** Bit flips, overwrites, truncation, cut-outs, insertions, junk: as test/hostile.test.ts. */
function mutate(src: Uint8Array): Uint8Array {
  const b = src.slice();
  switch (int(6)) {
    case 0:
      for (let i = 1 + int(8); i > 0 && b.length; i--) b[int(b.length)] ^= 1 << int(8);
      return b;
    case 1:
      for (let i = 1 + int(4); i > 0 && b.length; i--) b[int(b.length)] = pick([0, 0xff, 0x80, 0x7f, 0x2f, 0x2b, 0x23, 0x2e, int(256)]);
      return b;
    case 2:
      return b.subarray(0, int(b.length));
    case 3: {
      const s = int(b.length);
      return Uint8Array.from([...b.subarray(0, s), ...b.subarray(s + 1 + int(16))]);
    }
    case 4: {
      const s = int(b.length + 1);
      return Uint8Array.from([...b.subarray(0, s), ...randomBytes(1 + int(16)), ...b.subarray(s)]);
    }
    default:
      return Uint8Array.from([...b, ...randomBytes(1 + int(64))]);
  }
}

type Kind = 'V' | 'alerts' | 'errors' | 'mutated' | 'garbage' | 'other' | 'oversize' | 'unrouted';

function makeFrame(vin: string, txid: string): { kind: Kind; buf: Uint8Array } {
  const r = rnd();
  const senderId = chance(0.95) ? `vehicle_device.${vin}` : hostileName().slice(0, 64);
  const stream = (recordType: string, payload: Uint8Array) => writeStreamFrame({ txid, recordType, payload, senderId, createdAt: 1_700_000_000 });
  const sound = (): { kind: Kind; buf: Uint8Array } => {
    const t = int(3);
    if (t === 0) return { kind: 'V', buf: stream('V', vPayload(vin)) };
    if (t === 1) return { kind: 'alerts', buf: stream('alerts', alertsPayload(vin)) };
    return { kind: 'errors', buf: stream('errors', errorsPayload(vin)) };
  };
  if (r < 0.6) return sound();
  if (r < 0.9) {
    // A bit-flipped record: most keep their envelope (and txid), the payload goes wrong.
    const t = int(3);
    const payload = t === 0 ? vPayload(vin) : t === 1 ? alertsPayload(vin) : errorsPayload(vin);
    const buf = chance(0.6) ? stream(['V', 'alerts', 'errors'][t], mutate(payload)) : mutate(stream(['V', 'alerts', 'errors'][t], payload));
    return { kind: 'mutated', buf };
  }
  if (r < 0.95) return { kind: 'garbage', buf: randomBytes(int(2) ? int(64) : int(2048)) };
  if (r < 0.97) return { kind: 'other', buf: writeOtherFrame(txid, 'V', pick([0, 1, 2, 3, 5, 6, 200])) };
  if (r < 0.99) return { kind: 'unrouted', buf: stream(pick(['connectivity', 'foo', '', 'V/+', 'alerts#']), vPayload(vin)) };
  if (r < 0.9905) return { kind: 'oversize', buf: stream('V', randomBytes(1_000_001 + int(10_000))) };
  return sound();
}

// ---- the run ----------------------------------------------------------------------------------

interface Pending {
  kind: Kind;
  at: number;
}

const counts = { sent: 0, ack: 0, error: 0, unmatched: 0, closes: 0 };
const byKind = new Map<Kind, { sent: number; ack: number; error: number }>();
const kindOf = (k: Kind) => {
  let c = byKind.get(k);
  if (!c) byKind.set(k, (c = { sent: 0, ack: 0, error: 0 }));
  return c;
};

class Car {
  ws?: WebSocket;
  seq = 0;
  inflight = 0;
  /** Send times of frames without a response, oldest first (for the window only). */
  readonly times: number[] = [];
  readonly pending = new Map<string, Pending>();
  constructor(
    readonly vin: string,
    readonly certPem: string,
    readonly keyPem: string,
  ) {}

  connect(port: number, caPem: string, onResponse: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { cert: this.certPem, key: this.keyPem, ca: caPem, perMessageDeflate: false, maxPayload: 64 << 20 });
      this.ws = ws;
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('error', () => {});
      ws.on('close', () => {
        counts.closes++;
        this.times.length = 0;
        this.inflight = 0;
      });
      ws.on('message', (data: Buffer) => {
        // The response's txid and type, read with the server's own envelope reader.
        let txid = '';
        let type = 0;
        try {
          txid = Buffer.from(peekTxid(data)).toString('utf8');
          const root = data.readUInt32LE(0);
          const vt = root - data.readInt32LE(root);
          const off = data.readUInt16LE(vt) > 8 ? data.readUInt16LE(vt + 8) : 0;
          type = off ? data[root + off] : 0;
        } catch {
          /* counted below as neither */
        }
        if (type === 5) counts.ack++;
        else if (type === 4) counts.error++;
        const p = this.pending.get(txid);
        if (p) {
          this.pending.delete(txid);
          if (type === 5) kindOf(p.kind).ack++;
          else if (type === 4) kindOf(p.kind).error++;
        } else counts.unmatched++;
        if (this.inflight > 0) {
          this.inflight--;
          this.times.shift();
        }
        onResponse();
      });
    });
  }

  open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  send(): void {
    const txid = `fz-${this.vin.slice(-4)}-${this.seq++}`;
    const f = makeFrame(this.vin, txid);
    const now = Date.now();
    this.pending.set(txid, { kind: f.kind, at: now });
    this.times.push(now);
    this.inflight++;
    counts.sent++;
    kindOf(f.kind).sent++;
    this.ws!.send(f.buf, { binary: true });
  }

  /** Frames with no response for too long free their slot (they stay counted unanswered). */
  sweep(now: number): void {
    while (this.times.length && now - this.times[0] > UNANSWERED_MS) {
      this.times.shift();
      this.inflight--;
    }
    for (const [txid, p] of this.pending) {
      if (now - p.at <= UNANSWERED_MS * 2) break;
      this.pending.delete(txid);
    }
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-fuzz-')));
  log(`fuzz: ${N} frames, seed ${SEED}, ${K} vehicles × window ${W}`);
  const pki = await makePki(join(dir, 'pki'));
  const broker = await startBroker(dir);
  const logFile = join(dir, 'server.log');
  const server = await launchServer(
    dir,
    {
      log_level: flags['log-level'],
      records: { V: ['mqtt'], alerts: ['mqtt'], errors: ['mqtt'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      mqtt: { broker: broker.url, topic_base: TOPIC_BASE, qos: 1, client_id: CLIENT_ID, connect_retry_interval_ms: 200 },
    },
    { logFile },
  );
  log(`mosquitto pid ${broker.pid}, server pid ${server.pid}`);

  // The downstream subscriber: counts only, keeps a few samples of what escaped.
  const vins = Array.from({ length: K }, (_, i) => `5YJ3FUZZ${String(i).padStart(9, '0')}`);
  const prefixes = vins.map((v) => `${TOPIC_BASE}/${v}/`);
  const topics = { seen: 0, escaped: 0, unsafeLevel: 0, status: 0 };
  const escapedSamples: string[] = [];
  const unsafeSamples: string[] = [];
  const sub = mqtt.connect(broker.url, { clientId: 'fuzz-subscriber', clean: true, reconnectPeriod: 200 });
  sub.on('error', () => {});
  sub.on('message', (topic) => {
    topics.seen++;
    if (topic === STATUS_TOPIC) {
      topics.status++;
      return;
    }
    const prefix = prefixes.find((p) => topic.startsWith(p));
    if (!prefix) {
      topics.escaped++;
      if (escapedSamples.length < 5) escapedSamples.push(JSON.stringify(topic.slice(0, 120)));
      return;
    }
    const rest = topic.slice(prefix.length);
    if (/[\u0000-\u001f\u007f-\u009f.+# ]/.test(rest) || rest.split('/').some((l) => Buffer.byteLength(l) > 256)) {
      topics.unsafeLevel++;
      if (unsafeSamples.length < 5) unsafeSamples.push(JSON.stringify(rest.slice(0, 120)));
    }
  });
  await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
  await sub.subscribeAsync('#', { qos: 0 });

  const cars: Car[] = [];
  for (const vin of vins) {
    const cert = await pki.vehicle(vin);
    cars.push(new Car(vin, cert.certPem, cert.keyPem));
  }
  const sendEnd = started + flags['max-seconds']! * 1000;
  let stopSending = false;
  let sending = false; // not before the probe below is acked and the counts are cleared
  const pump = () => {
    if (!sending || stopSending) return;
    for (const car of cars) {
      while (car.open() && car.inflight < W && counts.sent < N && car.ws!.bufferedAmount < 4 << 20) car.send();
    }
    if (counts.sent >= N || Date.now() > sendEnd) stopSending = true;
  };
  for (const car of cars) await car.connect(server.port, pki.ca.certPem, pump);
  // Until the server's broker link is up frames go unanswered: probe with a sound frame first.
  const probeEnd = Date.now() + 20_000;
  for (let i = 0; counts.ack === 0; i++) {
    if (Date.now() > probeEnd) throw new Error('the server acked no probe frame within 20 s (is it connected to the broker?)');
    cars[0].ws!.send(
      writeStreamFrame({
        txid: `probe-${i}`,
        recordType: 'V',
        payload: encode('telemetry.vehicle_data.Payload', { data: [{ key: 4, value: { float_value: 1 } }], vin: cars[0].vin }),
      }),
      { binary: true },
    );
    await sleep(500);
  }
  await sleep(500);
  Object.assign(counts, { sent: 0, ack: 0, error: 0, unmatched: 0 });
  for (const car of cars) {
    car.inflight = 0;
    car.times.length = 0;
  }
  sending = true;

  let peakKb = 0;
  const sampler = setInterval(() => (peakKb = Math.max(peakKb, rssKb(server.pid) || 0)), 250);
  let lastLog = Date.now();
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const car of cars) car.sweep(now);
    // A vehicle the server closed comes back, as a car would.
    for (const car of cars) {
      if (!stopSending && car.ws && car.ws.readyState === WebSocket.CLOSED) {
        car.ws = undefined;
        car.connect(server.port, pki.ca.certPem, pump).catch(() => {});
      }
    }
    pump();
    if (now - lastLog > 5000) {
      lastLog = now;
      log(
        `  ${counts.sent} sent, ${counts.ack} ack, ${counts.error} error; ${topics.seen} topics seen, ${topics.escaped} escaped; server RSS ${Math.round(rssKb(server.pid) / 1024)} MB`,
      );
    }
  }, 20);
  pump();
  while (!stopSending) await sleep(50);
  // Responses still on their way get their full wait.
  const drainEnd = Date.now() + UNANSWERED_MS;
  while (Date.now() < drainEnd && counts.ack + counts.error < counts.sent) await sleep(50);
  await sleep(1000); // the subscriber's last messages
  clearInterval(ticker);
  clearInterval(sampler);

  const alive = server.alive();
  const closes = counts.closes;
  const disconnects = server.events.get('mqtt_disconnected') ?? 0;
  for (const car of cars) car.ws?.terminate();
  await sub.endAsync(true);
  await server.stop();
  await broker.stop();
  let logBytes = 0;
  try {
    logBytes = statSync(logFile).size;
  } catch {
    /* no log file: nothing logged */
  }
  const unanswered = Math.max(0, counts.sent - counts.ack - counts.error);
  const seconds = (Date.now() - started) / 1000;
  if (escapedSamples.length) log(`escaped topics, e.g.: ${escapedSamples.join(', ')}`);
  if (unsafeSamples.length) log(`unsafe levels, e.g.: ${unsafeSamples.join(', ')}`);
  log(`by kind (sent/ack/error): ${[...byKind].map(([k, c]) => `${k} ${c.sent}/${c.ack}/${c.error}`).join(', ')}`);
  const events = [...server.events].filter(([k]) => k !== 'level_30' && k !== 'unparsed');
  if (events.length) log(`server log events: ${events.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const ok = disconnects === 0 && topics.escaped === 0 && alive;
  console.log(
    `fuzz ${ok ? 'PASS' : 'FAIL'}: ${counts.sent} frames (seed ${SEED}) in ${seconds.toFixed(1)} s: ack ${counts.ack}, error ${counts.error}, unanswered ${unanswered}; ` +
      `mqtt_disconnected ${disconnects}; escaped topics ${topics.escaped} of ${topics.seen} (unsafe levels ${topics.unsafeLevel}); ` +
      `vehicle closes ${closes}; server log ${logBytes} bytes; server RSS peak ${Math.round(peakKb / 1024)} MB${alive ? '' : '; SERVER DIED'}`,
  );
  process.exit(ok ? 0 : 1);
}

main().catch((err: Error) => {
  log(err.stack ?? String(err));
  process.exit(1);
});
