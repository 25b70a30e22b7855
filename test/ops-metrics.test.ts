import t from 'tap';
import { ServerMetrics } from '../src/ops/metrics.js';
import type { Producer } from '../src/producers/types.js';
import type { VehicleRecord } from '../src/record/types.js';
import { Dispatcher } from '../src/server/dispatch.js';
import type { VehicleSession } from '../src/server/session.js';

// ServerMetrics and the Dispatcher's failure reports, without a network.

function fakeProducer(name: string, behaviour: 'ok' | 'fail' | 'hang', code?: string, ready?: () => boolean): Producer {
  return {
    name,
    ready,
    produce: () =>
      behaviour === 'ok'
        ? Promise.resolve()
        : behaviour === 'fail'
          ? Promise.reject(Object.assign(new Error(`${name} refused`), code ? { code } : {}))
          : new Promise<void>(() => {}),
    close: async () => {},
  };
}

function fakeSession(vin: string, frames = 0, fields = 0, lastFrameAt = 0): VehicleSession {
  return {
    info: { vin, connectionId: `c-${vin}`, clientVersion: 'v', networkInterface: 'wifi' },
    connectedAt: Date.now() - 5000,
    frames,
    fields,
    lastFrameAt,
  } as unknown as VehicleSession;
}

async function samples(m: ServerMetrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    for (const v of metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}=${x}`)
        .sort()
        .join(',');
      out.set(`${v.metricName ?? metric.name}{${labels}}`, v.value);
    }
  }
  return out;
}

const record = { type: 'V', vin: 'X', txid: 't', payload: new Uint8Array(0), data: [] } as unknown as VehicleRecord;

t.test('record types a vehicle makes up share one label value', async (t) => {
  const m = new ServerMetrics({ producers: new Map() });
  m.frameDone('V', 'acked');
  m.frameDone('V', 'acked');
  m.frameDone('no-such-type', 'acked_unrouted');
  m.frameDone('another', 'acked_unrouted');
  m.frameDone('', 'error_unreadable');
  const s = await samples(m);
  t.equal(s.get('fleet_telemetry_frames_received_total{outcome=acked,record_type=V}'), 2);
  t.equal(s.get('fleet_telemetry_frames_received_total{outcome=acked_unrouted,record_type=other}'), 2);
  t.equal(s.get('fleet_telemetry_frames_received_total{outcome=error_unreadable,record_type=none}'), 1);
  t.equal([...s.keys()].filter((k) => k.startsWith('fleet_telemetry_frames_received_total')).length, 3, 'no series for what never happened');
});

t.test('latency histograms: le is inclusive, buckets cumulative, one series set per record type', async (t) => {
  const m = new ServerMetrics({ producers: new Map() });
  m.recordPublished('V', 3, 0.005, 0.005);
  m.recordPublished('V', 2, 0.0051, 2);
  m.recordPublished('alerts', 1, 20, 20);
  const s = await samples(m);
  const pub = (rt: string, le: string) => s.get(`fleet_telemetry_publish_duration_seconds_bucket{le=${le},record_type=${rt}}`);
  t.equal(pub('V', '0.0025'), 0);
  t.equal(pub('V', '0.005'), 1, 'a value on a bound counts in that bucket');
  t.equal(pub('V', '0.01'), 2);
  t.equal(pub('V', '+Inf'), 2);
  t.equal(pub('alerts', '10'), 0, 'above every bound');
  t.equal(pub('alerts', '+Inf'), 1);
  t.equal(s.get('fleet_telemetry_publish_duration_seconds_count{record_type=V}'), 2);
  t.ok(Math.abs(s.get('fleet_telemetry_publish_duration_seconds_sum{record_type=V}')! - 0.0101) < 1e-12, 'sum');
  t.equal(s.get('fleet_telemetry_ack_duration_seconds_bucket{le=1,record_type=V}'), 1);
  t.equal(s.get('fleet_telemetry_ack_duration_seconds_bucket{le=2.5,record_type=V}'), 2);
  t.equal(s.get('fleet_telemetry_fields_published_total{record_type=V}'), 5);
  t.equal(s.get('fleet_telemetry_fields_published_total{record_type=alerts}'), 1);
  t.notOk(
    [...s.keys()].some((k) => k.includes('record_type=errors')),
    'a record type that never happened has no series',
  );
  const text = await m.registry.metrics();
  t.match(text, /# TYPE fleet_telemetry_publish_duration_seconds histogram/);
  t.match(text, /fleet_telemetry_publish_duration_seconds_bucket\{record_type="V",le="\+Inf"\} 2/);
});

t.test('only tracked VINs get a label; their counts survive a disconnect', async (t) => {
  const m = new ServerMetrics({ producers: new Map(), trackedVins: ['TRACKED1'] });
  const tracked = fakeSession('TRACKED1', 3, 6, 1_700_000_000_000);
  const other = fakeSession('UNTRACKED', 9, 9, 1_700_000_000_000);
  m.vehicleConnected(tracked);
  m.vehicleConnected(other);
  let s = await samples(m);
  t.equal(s.get('fleet_telemetry_tracked_vehicle_frames_received_total{vin=TRACKED1}'), 3);
  t.equal(s.get('fleet_telemetry_tracked_vehicle_connected{vin=TRACKED1}'), 1);
  t.equal(s.get('fleet_telemetry_tracked_vehicle_last_frame_timestamp_seconds{vin=TRACKED1}'), 1_700_000_000);
  t.equal(s.get('fleet_telemetry_vehicles_connected{}'), 2);
  m.vehicleDisconnected(tracked);
  m.vehicleDisconnected(tracked); // reported twice: counted once
  const again = fakeSession('TRACKED1', 1, 2, 0);
  m.vehicleConnected(again);
  s = await samples(m);
  t.equal(s.get('fleet_telemetry_tracked_vehicle_frames_received_total{vin=TRACKED1}'), 4, 'finished plus live connection');
  t.equal(s.get('fleet_telemetry_tracked_vehicle_fields_published_total{vin=TRACKED1}'), 8);
  t.equal(s.get('fleet_telemetry_vehicle_connections_total{}'), 3);
  t.notOk((await m.registry.metrics()).includes('UNTRACKED'), 'an untracked VIN appears nowhere');
  t.same(
    m
      .vehicles()
      .map((v) => v.vin)
      .sort(),
    ['TRACKED1', 'UNTRACKED'],
    '/vehicles: the live connections',
  );

  const none = new ServerMetrics({ producers: new Map() });
  t.notOk((await none.registry.metrics()).includes('tracked_vehicle'), 'no tracked VINs: no per-VIN metrics at all');
});

t.test('readiness: every producer ready (absent: ready), and not shutting down', async (t) => {
  let up = true;
  let accepting = true;
  const producers = new Map<string, Producer>([
    ['mqtt', fakeProducer('mqtt', 'ok', undefined, () => up)],
    ['plain', fakeProducer('plain', 'ok')],
  ]);
  const m = new ServerMetrics({ producers, accepting: () => accepting });
  t.same(m.readiness(), { ready: true, producers: { mqtt: true, plain: true } });
  up = false;
  t.match(m.readiness(), { ready: false, producers: { mqtt: false, plain: true } });
  t.equal((await samples(m)).get('fleet_telemetry_producer_ready{producer=mqtt}'), 0);
  up = true;
  accepting = false;
  t.match(m.readiness(), { ready: false, reason: 'shutting down' });
});

t.test('the Dispatcher says which producer refused, once per refusal', async (t) => {
  const m = new ServerMetrics({ producers: new Map() });
  const report = (p: string, err: unknown) => m.producerRejected(p, err);
  const producers = new Map<string, Producer>([
    ['good', fakeProducer('good', 'ok')],
    ['bad', fakeProducer('bad', 'fail', 'publish_timeout')],
    ['odd', fakeProducer('odd', 'fail', 'Not A Code!')],
    ['hang', fakeProducer('hang', 'hang')],
  ]);
  const d = new Dispatcher({ V: ['good', 'bad'], alerts: ['odd'], errors: ['good', 'hang'] }, producers, 100, report);
  await t.rejects(d.dispatch(record, d.producersFor('V')!), /bad refused/);
  await t.rejects(d.dispatch(record, d.producersFor('alerts')!), /odd refused/);
  await t.rejects(d.dispatch(record, d.producersFor('errors')!), { code: 'dispatch_timeout' });
  await d.dispatch(record, [producers.get('good')!]);
  const s = await samples(m);
  t.equal(s.get('fleet_telemetry_producer_failures_total{producer=bad,reason=publish_timeout}'), 1);
  t.equal(s.get('fleet_telemetry_producer_failures_total{producer=odd,reason=other}'), 1, 'a code that is no label value: other');
  t.equal(s.get('fleet_telemetry_producer_failures_total{producer=hang,reason=dispatch_timeout}'), 1, 'the one that never settled');
  t.notOk(
    [...s.keys()].some((k) => k.includes('producer=good')),
    'not the one that took it',
  );

  const single = new Dispatcher({ V: ['hang'] }, producers, 50, report);
  await t.rejects(single.dispatch(record, single.producersFor('V')!), { code: 'dispatch_timeout' });
  t.equal((await samples(m)).get('fleet_telemetry_producer_failures_total{producer=hang,reason=dispatch_timeout}'), 2);

  const quiet = new Dispatcher({ V: ['bad'] }, producers, 100);
  await t.rejects(quiet.dispatch(record, quiet.producersFor('V')!), /bad refused/, 'without a reporter: as before');
});

t.test('plugin failure codes cannot grow the reason label without bound', async (t) => {
  const m = new ServerMetrics({ producers: new Map() });
  for (let i = 0; i < 100; i++) m.producerRejected('plugin', Object.assign(new Error('x'), { code: `code_${i}` }));
  const reasons = [...(await samples(m)).keys()].filter((k) => k.startsWith('fleet_telemetry_producer_failures_total'));
  t.ok(reasons.length <= 32, `${reasons.length} reason series`);
  t.ok(reasons.some((k) => k.includes('reason=other')));
});
