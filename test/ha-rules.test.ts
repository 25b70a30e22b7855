import t from 'tap';
import { FIELD_CATALOGUE } from '../src/emulator/index.js';
import { enumOptions, fieldConfigs, serverConfig, shapeOf, type DiscoveryOptions } from '../src/publish/discovery.js';
import { FIELD_RULES } from '../src/publish/ha-fields.js';
import type { VRecord } from '../src/record/types.js';
import { Announcer } from '../src/producers/mqtt/announce.js';
import { PacketError, PacketReader } from '../src/producers/mqtt/packets.js';
import { encodeSubscribe, readPublish } from '../src/producers/mqtt/subscribe-packets.js';
import { HA_BINARY_SENSOR_CLASSES, HA_SENSOR_UNITS, HA_STATE_CLASSES } from './helpers/ha-lists.js';
import { discoveryOptions as opts } from './helpers/ha-options.js';

// The pure rules of Home Assistant discovery: each field's entity against Home Assistant's
// documented device classes and units, the announcer's bookkeeping, the SUBSCRIBE encoder.

const VIN = '5YJ3E1EA7KF000001';

t.test('every mapped field: component, device class, unit and state class as Home Assistant documents them', async (t) => {
  const o = opts();
  for (const [field] of FIELD_RULES) {
    for (const p of fieldConfigs(o, VIN, field, shapeOf('null'), {})) {
      const component = p.topic.split('/')[1];
      const c = JSON.parse(p.payload) as Record<string, unknown>;
      t.ok(['sensor', 'binary_sensor', 'device_tracker'].includes(component), `${field}: ${component}`);
      if (component === 'sensor') {
        const dc = c.device_class as string | undefined;
        if (dc === 'enum') {
          t.notOk(c.unit_of_measurement ?? c.state_class, `${field}: an enum has no unit and no state class`);
          t.ok(Array.isArray(c.options) && (c.options as string[]).length > 1, `${field}: options listed`);
          t.notOk(
            (c.options as string[]).some((x) => /^(ShiftState|ChargeState|WindowState)/.test(x)),
            `${field}: prefix stripped`,
          );
        } else if (dc !== undefined) {
          t.ok(dc in HA_SENSOR_UNITS, `${field}: sensor device class ${dc} is Home Assistant's`);
          t.ok(HA_SENSOR_UNITS[dc].includes(c.unit_of_measurement as string), `${field}: unit ${String(c.unit_of_measurement)} is one of ${dc}'s`);
        }
        if (c.state_class !== undefined) {
          t.ok(HA_STATE_CLASSES.includes(c.state_class as string), `${field}: state class ${JSON.stringify(c.state_class)}`);
          if (dc === 'energy') t.not(c.state_class, 'measurement', `${field}: energy is a total`);
        }
      }
      if (component === 'binary_sensor' && c.device_class !== undefined) {
        t.ok(HA_BINARY_SENSOR_CLASSES.includes(c.device_class as string), `${field}: binary_sensor device class ${JSON.stringify(c.device_class)}`);
      }
      t.match(c.unique_id, /^tesla_5YJ3E1EA7KF000001_[A-Za-z0-9_-]+$/, `${field}: unique_id from VIN and field`);
      t.match(p.topic, /^homeassistant\/(sensor|binary_sensor|device_tracker)\/5YJ3E1EA7KF000001\/[A-Za-z0-9_-]+\/config$/);
      t.equal(p.retain, true);
    }
  }
  t.same(
    enumOptions('ShiftState').find((x) => x.full === 'ShiftStateD'),
    { full: 'ShiftStateD', short: 'D' },
    'ShiftStateD → D',
  );
});

t.test('every field the emulator sends has a rule, enabled', async (t) => {
  for (const f of FIELD_CATALOGUE) {
    t.ok(FIELD_RULES.has(f.name), `${f.name} is mapped`);
  }
  const [unmapped] = fieldConfigs(opts(), VIN, 'SomethingNew', shapeOf('3'), {});
  t.equal(JSON.parse(unmapped.payload).enabled_by_default, false, 'an unmapped field is a sensor, disabled by default');
  t.match(unmapped.topic, /\/sensor\//);
  const doors = fieldConfigs(opts(), VIN, 'DoorState', shapeOf('null'), {});
  t.equal(doors.length, 6, 'one binary_sensor per door, known even from a null first value');
});

function vrec(vin: string, data: [string, string][]): VRecord {
  return {
    type: 'V',
    vin,
    txid: 't',
    payload: new Uint8Array(),
    data: data.map(([name, json], i) => ({ key: name === 'VehicleName' ? 64 : 1000 + i, name, json })),
  };
}

t.test('the announcer: configs first, once per field, undone on failure, bounded', async (t) => {
  const a = new Announcer(opts(), 2);
  const value = { topic: 'telemetry/V1/v/Soc', payload: '{"value":1}', qos: 1 as const, retain: false };
  const first = a.plan(
    vrec('V1', [
      ['Soc', '1'],
      ['VehicleName', '"Blue"'],
    ]),
    [value],
  );
  t.equal(first.pubs.length, 3, 'two configs and the value');
  t.equal(first.pubs[2], value, 'the value last');
  t.match(JSON.parse(first.pubs[0].payload).device, { name: 'Blue' }, 'the name seen in the same record names the device');
  t.same(first.added, ['Soc', 'VehicleName']);
  const again = a.plan(vrec('V1', [['Soc', '2']]), [value]);
  t.equal(again.pubs.length, 1, 'announced: the value alone');
  t.equal(again.added, undefined);
  a.undo('V1', ['Soc']);
  t.equal(a.plan(vrec('V1', [['Soc', '2']]), [value]).pubs.length, 2, 'after a failed batch, announced again');
  const renamed = a.plan(vrec('V1', [['VehicleName', '"Red"']]), []);
  t.equal(renamed.pubs.length, 1, 'a new name: its config again, with the new device name');
  t.match(JSON.parse(renamed.pubs[0].payload).device, { name: 'Red' });
  a.plan(vrec('V2', [['Soc', '1']]), []);
  a.plan(vrec('V3', [['Soc', '1']]), []);
  t.equal(a.plan(vrec('V1', [['Soc', '1']]), []).pubs.length, 1, 'V1, least recently seen, was forgotten: announced again');
  const all = a.all();
  t.equal(all[0].topic.startsWith('homeassistant/binary_sensor/fleet_telemetry_telemetry/'), true, 'the server first');
  t.ok(all.some((p) => p.topic === 'homeassistant/sensor/V3/Soc/config'));
});

t.test('SUBSCRIBE is encoded as strictly as PUBLISH', async (t) => {
  const b = encodeSubscribe(7, [{ topic: 'homeassistant/status', qos: 1 }]);
  t.same([...b.subarray(0, 4)], [0x82, 2 + 2 + 20 + 1, 0, 7]);
  t.equal(b.subarray(6, 26).toString(), 'homeassistant/status');
  t.equal(b[26], 1);
  t.ok(encodeSubscribe(1, [{ topic: 'a/+/b/#', qos: 0 }]));
  for (const [topic, qos, id, why] of [
    ['', 1, 1, /empty/],
    ['a/#/b', 1, 1, /#/],
    ['a/b+', 1, 1, /\+/],
    ['a\u0000b', 1, 1, /control character/],
    ['x'.repeat(65_536), 1, 1, /65535 bytes/],
    ['a', 3, 1, /QoS 3/],
    ['a', 1, 0, /packet id 0/],
    ['a', 1, 65_536, /packet id 65536/],
    ['\ud800', 1, 1, /lone surrogate/],
  ] as const) {
    t.throws(() => encodeSubscribe(id, [{ topic, qos }]), PacketError, `refused: ${why}`);
    t.throws(() => encodeSubscribe(id, [{ topic, qos }]), why);
  }
  t.throws(() => encodeSubscribe(1, []), /without a topic filter/);
});

t.test('incoming PUBLISH is read with its QoS and packet id', async (t) => {
  const got: ReturnType<typeof readPublish>[] = [];
  const r = new PacketReader((type, buf, s, l, flags) => {
    if (type === 3) got.push(readPublish(buf, s, l, flags));
  });
  // QoS 1, retained, topic "ha/status", id 0x0102, payload "online"; then QoS 0 "offline".
  const p1 = Buffer.concat([Buffer.from([0x33, 2 + 9 + 2 + 6, 0, 9]), Buffer.from('ha/status'), Buffer.from([1, 2]), Buffer.from('online')]);
  const p0 = Buffer.concat([Buffer.from([0x30, 2 + 9 + 7, 0, 9]), Buffer.from('ha/status'), Buffer.from('offline')]);
  const both = Buffer.concat([p1, p0]);
  r.push(both.subarray(0, 7));
  r.push(both.subarray(7));
  t.equal(got.length, 2);
  t.match(got[0], { topic: 'ha/status', qos: 1, packetId: 0x0102 });
  t.equal(got[0].payload.toString(), 'online');
  t.match(got[1], { topic: 'ha/status', qos: 0, packetId: 0 });
  t.equal(got[1].payload.toString(), 'offline');
  t.throws(() => readPublish(Buffer.from([0, 9, 0x61]), 0, 3, 0), /topic longer than the packet/);
});

t.test('with workers: entities available while any worker is online; one server status sensor per worker', async (t) => {
  const siblings = ['fleet-telemetry/x-w1/status', 'fleet-telemetry/x-w2/status'];
  const o: DiscoveryOptions = { ...opts(), statusTopic: siblings[1], siblingStatusTopics: siblings };
  const [field] = fieldConfigs(o, VIN, 'VehicleSpeed', shapeOf('3'), {});
  const c = JSON.parse(field.payload) as Record<string, unknown>;
  t.same(
    c.availability,
    siblings.map((topic) => ({ topic, payload_available: 'online', payload_not_available: 'offline' })),
  );
  t.equal(c.availability_mode, 'any');
  const s = serverConfig(o)!;
  t.equal(s.topic, 'homeassistant/binary_sensor/fleet_telemetry_telemetry/status_w2/config');
  t.match(JSON.parse(s.payload), { name: 'Status worker 2', state_topic: siblings[1] });
  const single = serverConfig(opts())!;
  t.equal(single.topic, 'homeassistant/binary_sensor/fleet_telemetry_telemetry/status/config', 'one process: one status sensor, as before');
  t.notOk('availability_mode' in (JSON.parse(fieldConfigs(opts(), VIN, 'VehicleSpeed', shapeOf('3'), {})[0].payload) as object), 'one process: no mode');
});
