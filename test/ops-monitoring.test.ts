import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeStreamFrame } from '../src/envelope/index.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { monitoringPort, startMonitored } from './helpers/monitored.js';
import { freePort, sleep, waitUntil } from './helpers/ports.js';
import { CLI, startServer } from './helpers/server.js';
import { connectVehicle, vFrame, vPayload } from './helpers/vehicle.js';

// Operations (issue #8): /metrics, /vehicles, /livez, /readyz on the monitoring port, and the logs.
const VIN_A = '5YJ3E1EA7KF000101';
const VIN_B = '5YJ3E1EA7KF000102'; // listed in vins_signal_tracking_enabled
const speed = (v: number) => [
  { key: 'VehicleSpeed', value: { float_value: v } },
  { key: 'Odometer', value: { double_value: v * 10 } },
];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, sample lines only; throws on a line that is not one. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample with exactly these labels. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  return samples.find((x) => x.name === name && Object.keys(x.labels).length === want.length && want.every(([k, v]) => x.labels[k] === v))?.value;
}

async function get(port: number, path: string, init?: RequestInit) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

async function scrape(port: number): Promise<{ text: string; samples: Sample[] }> {
  const r = await get(port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return { text: r.body, samples: parseMetrics(r.body) };
}

t.test('after known frames, /metrics and /vehicles match what was sent', async (t) => {
  const { pki, server, port } = await startMonitored(t.testdir(), { vins_signal_tracking_enabled: [VIN_B] });
  t.ok(port > 0 && port !== server.port, 'port 0: a real port, logged, apart from the vehicle port');

  const a = await connectVehicle(server.port, await pki.vehicle(VIN_A), pki.ca.certPem, { headers: { version: '2024.44.25', 'x-network-interface': 'wifi' } });
  const b = await connectVehicle(server.port, await pki.vehicle(VIN_B), pki.ca.certPem, {
    headers: { version: '2024.38.7', 'x-network-interface': 'cellular' },
  });
  let bytes = 0;
  const send = (v: typeof a, f: Uint8Array) => {
    bytes += f.length;
    v.send(f);
  };
  for (let i = 0; i < 3; i++) send(a, vFrame(`a-${i}`, VIN_A, speed(i)));
  send(a, writeStreamFrame({ txid: 'a-spoof', recordType: 'V', payload: vPayload(speed(9), 'OTHERVIN'), senderId: 'vehicle_device.OTHERVIN' }));
  send(a, Buffer.from('this is not a flatbuffer'));
  send(a, writeStreamFrame({ txid: 'a-big', recordType: 'V', payload: new Uint8Array(1_000_001) }));
  send(a, writeStreamFrame({ txid: 'a-bad', recordType: 'V', payload: Uint8Array.from([0x0a, 0x05, 0x08]) }));
  send(a, writeStreamFrame({ txid: 'a-alerts', recordType: 'alerts', payload: new Uint8Array(0) }));
  send(a, writeStreamFrame({ txid: 'a-odd', recordType: 'metrics', payload: new Uint8Array([1, 2, 3]) }));
  for (let i = 0; i < 2; i++) send(b, vFrame(`b-${i}`, VIN_B, speed(i)));
  await waitUntil(() => a.responses.length === 9 && b.responses.length === 2, 10_000, 'every response');
  t.equal(a.responses.filter((r) => r.kind === 'error').length, 3, 'unreadable, too big and undecodable got errors');

  const { text, samples } = await scrape(port);
  const frames = (record_type: string, outcome: string) => value(samples, 'fleet_telemetry_frames_received_total', { record_type, outcome });
  t.equal(frames('V', 'acked'), 6, 'acked V frames');
  t.equal(frames('none', 'error_unreadable'), 1, 'unreadable');
  t.equal(frames('none', 'error_too_big'), 1, 'too big');
  t.equal(frames('V', 'error_undecodable'), 1, 'undecodable');
  t.equal(frames('alerts', 'acked_unrouted'), 1, 'routed nowhere: acked');
  t.equal(frames('other', 'acked_unrouted'), 1, 'an unknown record type is "other", not its own label');
  t.equal(
    samples.filter((s) => s.name === 'fleet_telemetry_frames_received_total').reduce((n, s) => n + s.value, 0),
    11,
    'every frame counted once',
  );
  t.equal(value(samples, 'fleet_telemetry_received_bytes_total'), bytes, 'bytes received');
  t.equal(value(samples, 'fleet_telemetry_sender_mismatch_frames_total'), 1, 'sender mismatch');
  t.equal(value(samples, 'fleet_telemetry_rate_limit_waits_total'), 0, 'no rate limit configured');
  t.equal(value(samples, 'fleet_telemetry_fields_published_total', { record_type: 'V' }), 12, 'two fields per acked V frame');
  for (const h of ['publish', 'ack']) {
    t.equal(value(samples, `fleet_telemetry_${h}_duration_seconds_count`, { record_type: 'V' }), 6, `${h} latency: one observation per acked record`);
    t.equal(value(samples, `fleet_telemetry_${h}_duration_seconds_bucket`, { record_type: 'V', le: '+Inf' }), 6);
    t.ok(value(samples, `fleet_telemetry_${h}_duration_seconds_sum`, { record_type: 'V' })! > 0);
  }
  t.equal(value(samples, 'fleet_telemetry_records_in_flight'), 0, 'nothing in flight');
  t.equal(value(samples, 'fleet_telemetry_vehicles_connected'), 2);
  t.equal(value(samples, 'fleet_telemetry_vehicle_connections_total'), 2);
  t.equal(value(samples, 'fleet_telemetry_broker_connected', { producer: 'mqtt' }), 1, 'broker connected');
  t.equal(value(samples, 'fleet_telemetry_broker_reconnects_total', { producer: 'mqtt' }), 0);
  t.equal(value(samples, 'fleet_telemetry_producer_ready', { producer: 'mqtt' }), 1);
  t.notOk(
    samples.some((s) => s.name === 'fleet_telemetry_producer_failures_total'),
    'no producer failures',
  );
  t.ok(value(samples, 'fleet_telemetry_process_cpu_user_seconds_total') !== undefined, 'default metrics share the prefix');
  t.ok(
    samples.every((s) => s.name.startsWith('fleet_telemetry_')),
    'every metric has the prefix',
  );
  t.notOk(text.includes(VIN_A), 'an untracked VIN appears nowhere');
  t.equal(value(samples, 'fleet_telemetry_tracked_vehicle_frames_received_total', { vin: VIN_B }), 2, 'tracked VIN: frames');
  t.equal(value(samples, 'fleet_telemetry_tracked_vehicle_fields_published_total', { vin: VIN_B }), 4, 'tracked VIN: fields');
  t.equal(value(samples, 'fleet_telemetry_tracked_vehicle_connected', { vin: VIN_B }), 1);
  t.ok(value(samples, 'fleet_telemetry_tracked_vehicle_last_frame_timestamp_seconds', { vin: VIN_B })! > Date.now() / 1000 - 60);

  const vehicles = await get(port, '/vehicles');
  t.equal(vehicles.status, 200);
  t.match(vehicles.type, /application\/json/);
  const list = JSON.parse(vehicles.body) as { count: number; vehicles: Record<string, unknown>[] };
  t.equal(list.count, 2);
  const va = list.vehicles.find((v) => v.vin === VIN_A)!;
  const vb = list.vehicles.find((v) => v.vin === VIN_B)!;
  t.match(va, { client_version: '2024.44.25', network_interface: 'wifi', frames: 9, fields: 8 }, 'vehicle A as sent');
  t.match(vb, { client_version: '2024.38.7', network_interface: 'cellular', frames: 2, fields: 4 }, 'vehicle B as sent');
  for (const v of [va, vb]) {
    t.ok(Date.now() - Date.parse(v.connected_since as string) < 60_000, 'connected since: an ISO time');
    t.ok(Date.parse(v.last_frame_at as string) >= Date.parse(v.connected_since as string), 'last frame time');
    t.type(v.connection_id, 'string');
  }

  await b.close();
  const gone = await server.waitForLog((l) => l.event === 'vehicle_disconnected' && l.vin === VIN_B);
  t.match(gone, { frames: 2, fields: 4 }, 'disconnect line with counts');
  t.ok(typeof gone.duration_s === 'number' && gone.duration_s > 0, 'and the duration');
  t.ok(
    server.logs.some((l) => l.event === 'vehicle_connected' && l.vin === VIN_B && l.client_version === '2024.38.7'),
    'one connect line',
  );
  const after = await scrape(port);
  t.equal(value(after.samples, 'fleet_telemetry_vehicles_connected'), 1, 'one vehicle left');
  t.equal(value(after.samples, 'fleet_telemetry_tracked_vehicle_frames_received_total', { vin: VIN_B }), 2, 'tracked counts outlive the connection');
  t.equal(value(after.samples, 'fleet_telemetry_tracked_vehicle_connected', { vin: VIN_B }), 0);
  t.same(
    (JSON.parse((await get(port, '/vehicles')).body) as { vehicles: { vin: string }[] }).vehicles.map((v) => v.vin),
    [VIN_A],
  );

  t.equal((await get(port, '/nowhere')).status, 404);
  t.equal((await get(port, '/metrics', { method: 'POST' })).status, 405);
  const head = await get(port, '/livez', { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD works for probes');
  t.equal(head.body, '');

  await a.close();
  t.equal(await server.stop(), 0);
  await t.rejects(fetch(`http://127.0.0.1:${port}/livez`), 'the monitoring listener closes on shutdown');
});

t.test('ack latency includes the wait for the rate limit; publish latency does not', async (t) => {
  const { pki, server, port } = await startMonitored(t.testdir(), { rate_limit: { enabled: true, message_limit: 3, message_interval_time: 1 } });
  const v = await connectVehicle(server.port, await pki.vehicle(VIN_A), pki.ca.certPem);
  await sleep(200); // past the CONNECTED record, so only the rate limit holds frames
  for (let i = 0; i < 6; i++) v.send(vFrame(`r-${i}`, VIN_A, speed(i)));
  await waitUntil(() => v.responses.length === 6, 10_000, 'every ack');
  const { samples } = await scrape(port);
  t.ok(value(samples, 'fleet_telemetry_rate_limit_waits_total')! >= 1, 'rate-limit waits counted');
  t.equal(value(samples, 'fleet_telemetry_frames_received_total', { record_type: 'V', outcome: 'acked' }), 6);
  const ack = (le: string) => value(samples, 'fleet_telemetry_ack_duration_seconds_bucket', { record_type: 'V', le })!;
  const pub = (le: string) => value(samples, 'fleet_telemetry_publish_duration_seconds_bucket', { record_type: 'V', le })!;
  t.equal(ack('0.25'), 3, 'three frames acked at once');
  t.equal(ack('+Inf') - ack('0.5'), 3, 'three waited for the window (about a second)');
  t.equal(pub('0.5'), 6, 'none of that is publish time');
  t.ok(value(samples, 'fleet_telemetry_ack_duration_seconds_sum', { record_type: 'V' })! > 1.5);
  await v.close();
  t.equal(await server.stop(), 0);
});

t.test('/readyz follows the broker; /livez stays 200', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: mosq.url, qos: 1, publish_timeout_ms: 800, connect_retry_interval_ms: 200, connect_retry_max_interval_ms: 500 },
    monitoring: { prometheus_metrics_port: 0 },
  });
  const port = await monitoringPort(server);
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  let ready = await get(port, '/readyz');
  t.equal(ready.status, 200, 'ready with the broker connected');
  t.same(JSON.parse(ready.body), { ready: true, producers: { mqtt: true } });
  t.equal((await get(port, '/livez')).status, 200);

  const v = await connectVehicle(server.port, await pki.vehicle(VIN_A), pki.ca.certPem);
  v.send(vFrame('up-1', VIN_A, speed(1)));
  t.equal((await v.response('up-1')).kind, 'ack');

  await mosq.stop();
  await waitUntil(async () => (await get(port, '/readyz')).status === 503, 10_000, '/readyz 503');
  ready = await get(port, '/readyz');
  t.match(JSON.parse(ready.body), { ready: false, producers: { mqtt: false } }, '503 names the producer');
  t.equal((await get(port, '/livez')).status, 200, '/livez never depends on the broker');
  v.send(vFrame('down-1', VIN_A, speed(2)));
  await server.waitForLog((l) => l.event === 'record_unacked' && l.txid === 'down-1');
  let m = (await scrape(port)).samples;
  t.equal(value(m, 'fleet_telemetry_broker_connected', { producer: 'mqtt' }), 0, 'broker state 0');
  t.equal(value(m, 'fleet_telemetry_producer_ready', { producer: 'mqtt' }), 0);
  t.equal(value(m, 'fleet_telemetry_frames_received_total', { record_type: 'V', outcome: 'unacked' }), 1, 'the frame left unanswered');
  t.equal(value(m, 'fleet_telemetry_producer_failures_total', { producer: 'mqtt', reason: 'broker_unavailable' }), 1, 'failure by producer and reason');

  await mosq.start();
  await waitUntil(async () => (await get(port, '/readyz')).status === 200, 10_000, '/readyz 200 again');
  t.pass('/readyz is 200 again once the broker is back');
  t.equal((await get(port, '/livez')).status, 200);
  v.send(vFrame('down-1', VIN_A, speed(2)));
  t.equal((await v.response('down-1')).kind, 'ack', 'the resend is acked');
  m = (await scrape(port)).samples;
  t.equal(value(m, 'fleet_telemetry_broker_connected', { producer: 'mqtt' }), 1);
  t.ok(value(m, 'fleet_telemetry_broker_reconnects_total', { producer: 'mqtt' })! >= 1, 'reconnects counted');
  t.equal(value(m, 'fleet_telemetry_frames_received_total', { record_type: 'V', outcome: 'acked' }), 2);
  await v.close();
  t.equal(await server.stop(), 0);
  await mosq.stop();
});

/** The CLI with a config of our own (the server helper insists on JSON logs at debug). */
async function runCli(dir: string, config: Record<string, unknown>) {
  const file = join(dir, `config-${Math.random().toString(36).slice(2, 8)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr.resume();
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  return {
    lines: () => out.split('\n').filter(Boolean),
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

t.test('logs: readable lines without json_log_enable, log_level honoured', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const base = {
    host: '127.0.0.1',
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0 },
  };

  // info, readable, no monitoring port
  let port = await freePort();
  let cli = await runCli(dir, { ...base, port, log_level: 'info' });
  await waitUntil(() => cli.lines().some((l) => /vehicle server listening/.test(l)), 15_000, 'listening line');
  let v = await connectVehicle(port, await pki.vehicle(VIN_A), pki.ca.certPem, { headers: { version: '1.0' } });
  v.send(vFrame('l-1', VIN_A, speed(1)));
  await v.response('l-1');
  await v.close();
  await waitUntil(() => cli.lines().some((l) => /vehicle disconnected/.test(l)), 10_000, 'disconnect line');
  t.equal(await cli.stop(), 0);
  let lines = cli.lines();
  t.ok(
    lines.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /.test(l)),
    'every line readable: time, level, message',
  );
  t.notOk(
    lines.some((l) => l.startsWith('{')),
    'no JSON',
  );
  const connected = lines.filter((l) => / vehicle connected /.test(l));
  t.equal(connected.length, 1, 'one connect line');
  t.match(connected[0], new RegExp(`event=vehicle_connected vin=${VIN_A} .*client_version=1.0`));
  const disconnected = lines.filter((l) => / vehicle disconnected /.test(l));
  t.equal(disconnected.length, 1, 'one disconnect line');
  t.match(disconnected[0], /duration_s=[\d.]+ frames=1 fields=2/, 'with duration and counts');
  t.notOk(
    lines.some((l) => /monitoring_listening/.test(l)),
    'no monitoring port: no monitoring listener',
  );
  t.notOk(
    lines.some((l) => / DEBUG /.test(l)),
    'no debug lines at info',
  );

  // warn: info lines are gone, warnings stay; the monitoring port answers all the same
  port = await freePort();
  const mport = await freePort();
  cli = await runCli(dir, { ...base, port, log_level: 'warn', monitoring: { prometheus_metrics_port: mport } });
  await waitUntil(
    () =>
      get(mport, '/livez').then(
        (r) => r.status === 200,
        () => false,
      ),
    15_000,
    '/livez',
  );
  v = await connectVehicle(port, await pki.vehicle(VIN_A), pki.ca.certPem);
  v.send(Buffer.from('garbage'));
  await waitUntil(() => v.responses.length === 1, 5000, 'error response');
  await v.close();
  await waitUntil(async () => JSON.parse((await get(mport, '/vehicles')).body).count === 0, 5000, 'vehicle gone');
  t.equal(await cli.stop(), 0);
  lines = cli.lines();
  t.ok(
    lines.some((l) => / WARN  unreadable frame /.test(l)),
    'warnings logged',
  );
  t.notOk(
    lines.some((l) => / (INFO |DEBUG|TRACE) /.test(l)),
    'nothing below warn',
  );
});
