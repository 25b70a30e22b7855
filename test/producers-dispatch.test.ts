import t from 'tap';
import Long from 'long';
import { decodeRecord } from '../src/record/decode.js';
import { lookupEnum, lookupType } from '../src/record/schema.js';
import type { VehicleRecord } from '../src/record/types.js';
import {
  type DispatchError,
  DispatchTally,
  InFlightRecords,
  dispatchMessage,
  dispatchTopic,
  kinesisStream,
  parseGoLocation,
  redisSubscriberSetKey,
  redisVinChannel,
} from '../src/producers/dispatch/index.js';

// What Tesla's dispatchers send, as read in its telemetry/record.go, telemetry/producer.go,
// config/config.go and datastore/*: each expectation below is written out by hand.

const VIN = '5YJ3E1EA7KF000001';
const Payload = lookupType('telemetry.vehicle_data.Payload');
const Alerts = lookupType('telemetry.vehicle_alerts.VehicleAlerts');
const Errors = lookupType('telemetry.vehicle_error.VehicleErrors');
const Connectivity = lookupType('telemetry.vehicle_connectivity.VehicleConnectivity');
const Field = lookupEnum('telemetry.vehicle_data.Field').values;

const plain = (type: typeof Payload, bytes: Uint8Array) => type.toObject(type.decode(bytes), { longs: String, enums: String, defaults: false, oneofs: false });

function record(type: VehicleRecord['type'], bytes: Uint8Array, extra: Partial<VehicleRecord> = {}): VehicleRecord {
  return { ...decodeRecord(type, bytes, VIN, 'tx-1'), ...extra } as VehicleRecord;
}

t.test('names: BuildTopicName, the Redis VIN channel and set key, Kinesis streams', async (t) => {
  t.equal(dispatchTopic('tesla_telemetry', 'V'), 'tesla_telemetry_V');
  t.equal(dispatchTopic('', 'alerts'), '_alerts', 'an empty namespace still gets its underscore');
  t.equal(redisVinChannel('tesla_telemetry', 'V', VIN), `tesla_telemetry_V_{${VIN}}`);
  t.equal(redisSubscriberSetKey('consumer', 'tesla_telemetry', 'V', VIN), `consumer_tesla_telemetry_V_{${VIN}}`);
  t.equal(kinesisStream('ns', 'V'), 'ns_V', 'no mapping: the topic name');
  t.equal(kinesisStream('ns', 'V', { V: 'test_V' }), 'test_V', 'kinesis.streams');
  t.equal(kinesisStream('ns', 'V', { V: '' }), 'ns_V', 'an empty mapping falls back');
  t.equal(kinesisStream('ns', 'connectivity', { connectivity: 'c' }, { KINESIS_STREAM_CONNECTIVITY: 'from-env' }), 'from-env', 'the environment wins');
  t.equal(kinesisStream('ns', 'V', {}, { KINESIS_STREAM_V: '' }), 'ns_V');
});

t.test("Go's Sscanf reading of a Location string", async (t) => {
  t.same(parseGoLocation('(37.412374 N, 122.145867 W)'), { latitude: 37.412374, longitude: -122.145867 });
  t.same(parseGoLocation('(37.5 S, 1e2 E) and more'), { latitude: -37.5, longitude: 100 }, 'exponent, trailing text');
  t.same(parseGoLocation('(-1.5N,  2.25W)'), { latitude: -1.5, longitude: -2.25 }, 'sign, no space before the letter');
  t.equal(parseGoLocation('(37.4 N , 1 W)'), undefined, 'a space before the comma does not match');
  t.equal(parseGoLocation(' (37.4 N, 1 W)'), undefined, 'a space before the parenthesis does not match');
  t.equal(parseGoLocation('(37.4 X, 1 W)'), undefined, 'hemisphere letter');
  t.equal(parseGoLocation('(37.4 N, 1 W'), undefined, 'no closing parenthesis');
  t.equal(parseGoLocation('(abc N, 1 W)'), undefined);
});

t.test('V: vin set, first Location parsed, scientific strings fixed, key and headers', async (t) => {
  const bytes = Payload.encode(
    Payload.fromObject({
      data: [
        { key: Field.VehicleSpeed, value: { float_value: 65.4 } },
        { key: Field.Location, value: { string_value: '(37.412374 N, 122.145867 W)' } },
        { key: Field.Location, value: { string_value: '(1 N, 2 E)' } },
        { key: Field.Odometer, value: { string_value: '5.0e-3' } },
        { key: Field.VehicleName, value: { string_value: '1e-3' } },
        { key: Field.EstBatteryRange, value: { long_value: Long.fromString('9007199254740993') } },
        { key: 9999, value: { int_value: 7 } },
      ],
      created_at: { seconds: 1700000000, nanos: 5000000 },
      vin: 'SPOOFED',
    }),
  ).finish();
  const rec = record('V', bytes, { receivedAt: 1700000001234, clientVersion: '2024.44.25' });
  const m = dispatchMessage(rec);
  t.equal(m.key, VIN);
  t.same(m.headers, {
    vin: VIN,
    receivedat: '1700000001234',
    timestamp: '0',
    txid: 'tx-1',
    txtype: 'V',
    version: '0',
    device_client_version: '2024.44.25',
  });
  t.same(plain(Payload, m.value), {
    data: [
      { key: 'VehicleSpeed', value: { float_value: Math.fround(65.4) } },
      { key: 'Location', value: { location_value: { latitude: 37.412374, longitude: -122.145867 } } },
      { key: 'Location', value: { string_value: '(1 N, 2 E)' } },
      { key: 'Odometer', value: { string_value: '0.00500' } },
      { key: 'VehicleName', value: { string_value: '1e-3' } },
      { key: 'EstBatteryRange', value: { long_value: '9007199254740993' } },
      { key: 9999, value: { int_value: 7 } },
    ],
    created_at: { seconds: '1700000000', nanos: 5000000 },
    vin: VIN,
  });

  const json = JSON.parse(Buffer.from(dispatchMessage(rec, { decoded: true }).value).toString('utf8'));
  t.same(json, {
    data: [
      { key: 'VehicleSpeed', value: { floatValue: 65.4 } },
      { key: 'Location', value: { locationValue: { latitude: 37.412374, longitude: -122.145867 } } },
      { key: 'Location', value: { stringValue: '(1 N, 2 E)' } },
      { key: 'Odometer', value: { stringValue: '0.00500' } },
      { key: 'VehicleName', value: { stringValue: '1e-3' } },
      { key: 'EstBatteryRange', value: { longValue: '9007199254740993' } },
      { key: 9999, value: { intValue: 7 } },
    ],
    createdAt: '2023-11-14T22:13:20.005Z',
    vin: VIN,
    isResend: false,
  });
});

t.test('alerts: millisecond timestamps read as such, JSON with enum names and nulls', async (t) => {
  const bytes = Alerts.encode(
    Alerts.fromObject({
      alerts: [
        { name: 'A', audiences: [1, 2], started_at: { seconds: Long.fromString('1700000000123'), nanos: 777 }, ended_at: { seconds: 1700000100 } },
        { name: 'B' },
      ],
    }),
  ).finish();
  const rec = record('alerts', bytes);
  t.same(plain(Alerts, dispatchMessage(rec).value), {
    alerts: [
      { name: 'A', audiences: ['Customer', 'Service'], started_at: { seconds: '1700000000', nanos: 123000000 }, ended_at: { seconds: '1700000100' } },
      { name: 'B' },
    ],
    vin: VIN,
  });
  const json = JSON.parse(Buffer.from(dispatchMessage(rec, { decoded: true }).value).toString('utf8'));
  t.same(json, {
    alerts: [
      { name: 'A', audiences: ['Customer', 'Service'], startedAt: '2023-11-14T22:13:20.123Z', endedAt: '2023-11-14T22:15:00Z' },
      { name: 'B', audiences: [], startedAt: null, endedAt: null },
    ],
    createdAt: null,
    vin: VIN,
  });
});

t.test('errors: tags as an object sorted by key, every field present in JSON', async (t) => {
  const bytes = Errors.encode(Errors.fromObject({ errors: [{ name: 'e1', tags: { z: '1', a: '2' }, body: 'b' }, { name: 'e2' }] })).finish();
  const rec = record('errors', bytes);
  t.same(plain(Errors, dispatchMessage(rec).value), { errors: [{ name: 'e1', tags: { z: '1', a: '2' }, body: 'b' }, { name: 'e2' }], vin: VIN });
  const text = Buffer.from(dispatchMessage(rec, { decoded: true }).value).toString('utf8');
  t.match(text, /"tags":\{"a":"2","z":"1"\}/, 'map keys sorted');
  t.same(JSON.parse(text), {
    errors: [
      { createdAt: null, name: 'e1', tags: { a: '2', z: '1' }, body: 'b' },
      { createdAt: null, name: 'e2', tags: {}, body: '' },
    ],
    createdAt: null,
    vin: VIN,
  });
});

t.test('connectivity: the connection id is the txid header', async (t) => {
  const bytes = Connectivity.encode(
    Connectivity.fromObject({
      vin: VIN,
      connection_id: 'c0ffee00-0000-4000-8000-000000000001',
      status: 1,
      created_at: { seconds: 1700000000 },
      network_interface: 'wifi',
    }),
  ).finish();
  const rec = { ...record('connectivity', bytes), txid: '' };
  const m = dispatchMessage(rec, { now: () => 42 });
  t.equal(m.headers.txid, 'c0ffee00-0000-4000-8000-000000000001');
  t.equal(m.headers.receivedat, '42', 'the clock when the record carries no time');
  t.equal(m.headers.txtype, 'connectivity');
  t.same(JSON.parse(Buffer.from(dispatchMessage(rec, { decoded: true }).value).toString('utf8')), {
    vin: VIN,
    connectionId: 'c0ffee00-0000-4000-8000-000000000001',
    status: 'CONNECTED',
    createdAt: '2023-11-14T22:13:20Z',
    networkInterface: 'wifi',
  });
});

t.test('InFlightRecords: bounded, answered by the deadline, work counted until it ends', async (t) => {
  const tally = new DispatchTally();
  const held = new InFlightRecords(2, 50, tally);
  // The deadline timer is unref'd (a server's sockets keep it alive): this keeps the test's process up.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  let finishA!: () => void;
  const a = held.run(() => new Promise<void>((r) => (finishA = r)));
  const b = held.run(() => Promise.resolve());
  await b;
  t.equal(tally.inFlight, 1, 'b is done, a is not');
  let failB!: (e: Error) => void;
  const c = held.run(() => new Promise<void>((_, j) => (failB = j)));
  const full = held.run(() => Promise.resolve());
  await t.rejects(full, { code: 'producer_full' }, 'past the bound: refused at once');
  failB(new Error('boom'));
  await t.rejects(c, { message: 'boom' }, 'a failure is passed on');
  const late = await a.then(
    () => undefined,
    (e: unknown) => e as DispatchError,
  );
  t.equal(late?.code, 'publish_timeout', 'a is answered at its deadline');
  t.equal(tally.inFlight, 1, 'while its work still counts');
  t.notOk(held.hasRoom() === false, 'room for one more');
  finishA();
  await late!.completion;
  t.equal(tally.inFlight, 0, 'its completion resolves once the work ends');
});
