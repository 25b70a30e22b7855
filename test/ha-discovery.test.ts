import t from 'tap';
import { certSourceFromCa, emulatorVin, FIELD_CATALOGUE, Fleet } from '../src/emulator/index.js';
import { makePki, type TestPki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { waitUntil } from './helpers/ports.js';
import { expectedAvailability, serverStatusConfigs, startServer, testWorkers } from './helpers/server.js';
import { subscribe } from './helpers/subscriber.js';
import { renderTemplates } from './helpers/jinja.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// Home Assistant discovery end to end: the real server, mosquitto, two emulated vehicles sending
// every field the emulator knows, and hand-made frames with what cars also send (string floats,
// plain string numbers, invalid values, unknown enum numbers). Every template the server emitted is
// rendered with real Jinja2 on every payload the server published, in both payload formats.

type Config = Record<string, unknown> & { state_topic?: string; json_attributes_topic?: string };

interface Entity {
  topic: string;
  component: string;
  objectId: string;
  config: Config;
}

function tlsOf(pki: TestPki) {
  return { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };
}

/** The state Home Assistant should show for `v` (the value as published), from the config alone. */
function expected(e: Entity, field: string, v: unknown): unknown {
  const c = e.config;
  if (e.component === 'device_tracker') return v;
  if (e.component === 'binary_sensor') {
    if (c.device_class === 'connectivity') {
      // The vehicle's presence, not one connection's record.
      const online = (v as { online?: unknown }).online;
      return online === true ? 'ON' : online === false ? 'OFF' : 'None';
    }
    if (e.objectId !== field) {
      const member = e.objectId.slice(field.length + 1);
      return v !== null && typeof v === 'object' ? ((v as Record<string, unknown>)[member] === true ? 'ON' : 'OFF') : 'None';
    }
    const [on, off] = c.device_class === 'lock' ? ['OFF', 'ON'] : ['ON', 'OFF'];
    return v === true ? on : v === false ? off : 'None';
  }
  if (c.device_class === 'enum') {
    const options = c.options as string[];
    if (typeof v !== 'string') return 'None';
    if (options.includes(v)) return v;
    const m = options.filter((o) => v.endsWith(o) && /^[A-Z][A-Za-z]+$/.test(v.slice(0, v.length - o.length))).sort((a, b) => b.length - a.length);
    return m[0] ?? 'None';
  }
  if (c.state_class !== undefined) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    return 'None';
  }
  if (typeof v === 'string') return v.slice(0, 255);
  return v === null ? 'None' : v;
}

const render = renderTemplates;

const ODD_VALUES = [
  { key: 'Soc', value: { string_value: '60.50000' } },
  { key: 'Odometer', value: { string_value: '12345' } },
  { key: 'PackVoltage', value: { invalid: true } },
  { key: 'Gear', value: { shift_state_value: 42 } },
  { key: 'Locked', value: { invalid: true } },
  { key: 'DoorState', value: { door_value: { DriverFront: true, TrunkRear: true } } },
  { key: 'VehicleName', value: { invalid: true } },
  { key: 'Location', value: { invalid: true } },
  { key: 'ChargeState', value: { charging_value: 99 } },
];

for (const format of ['value', 'raw'] as const) {
  t.test(`payload_format ${format}: every field topic read by a discovered entity that renders what was published`, async (t) => {
    const dir = t.testdir();
    const pki = await makePki(dir);
    const broker = await startMosquitto(dir);
    t.teardown(() => broker.stop());
    const sub = await subscribe(broker.url, '#');
    t.teardown(() => sub.close());
    const server = await startServer(dir, {
      records: { V: ['mqtt'] },
      tls: tlsOf(pki),
      mqtt: {
        broker: `127.0.0.1:${broker.port}`,
        topic_base: 'telemetry',
        qos: 1,
        payload_format: format,
        client_id: `ha-${format}`,
        ha_discovery: { enabled: true },
      },
    });
    t.teardown(() => server.stop());

    const fleet = await Fleet.create({
      url: `wss://localhost:${server.port}/`,
      ca: pki.ca.certPem,
      certs: certSourceFromCa(pki.ca),
      vehicles: 2,
      frames: 6,
      rate: 20,
      fields: FIELD_CATALOGUE.length,
    });
    const s = await fleet.run();
    t.equal(s.totals.acked, 12, 'every frame acked');
    const vin = emulatorVin(1);
    const car = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
    car.send(vFrame('odd', vin, ODD_VALUES));
    t.equal((await car.response('odd')).kind, 'ack', 'the odd values are acked');
    await car.close();
    const vins = fleet.vehicles.map((v) => v.vin);
    const fields = FIELD_CATALOGUE.map((f) => f.name);
    await sub.waitFor((m) => vins.every((v) => m.filter((x) => x.topic === `telemetry/${v}/connectivity`).length >= 2), 10_000, 'connectivity');

    // The entities, and the order things arrived in.
    const entities: Entity[] = [];
    const firstAt = new Map<string, number>();
    sub.messages.forEach((m, i) => {
      const d = /^homeassistant\/([a-z_]+)\/([^/]+)\/([^/]+)\/config$/.exec(m.topic);
      if (d) {
        if (!entities.some((e) => e.topic === m.topic))
          entities.push({ topic: m.topic, component: d[1], objectId: d[3], config: JSON.parse(m.payload) as Config });
        const c = JSON.parse(m.payload) as Config;
        const read = c.state_topic ?? c.json_attributes_topic;
        if (read && !firstAt.has(`config ${read}`)) firstAt.set(`config ${read}`, i);
      } else if (!firstAt.has(m.topic)) firstAt.set(m.topic, i);
    });
    t.ok(
      entities.every((e) => sub.messages.find((m) => m.topic === e.topic)!.qos === 1),
      'configs at the configured QoS',
    );

    for (const v of vins) {
      for (const f of fields) {
        const topic = `telemetry/${v}/v/${f}`;
        const readers = entities.filter((e) => (e.config.state_topic ?? e.config.json_attributes_topic) === topic);
        const want = f === 'DoorState' ? 6 : f === 'TpmsHardWarnings' ? 10 : 1;
        t.equal(readers.length, want, `${v} ${f}: ${want} entit${want === 1 ? 'y' : 'ies'}`);
        t.ok(firstAt.get(`config ${topic}`)! < firstAt.get(topic)!, `${v} ${f}: config before the first value`);
        for (const e of readers) {
          const c = e.config as Record<string, unknown>;
          t.same(
            { availability: c.availability, ...(c.availability_mode !== undefined && { availability_mode: c.availability_mode }) },
            expectedAvailability(`fleet-telemetry/ha-${format}/status`),
          );
          t.match(e.config.device, { identifiers: [`tesla_${v}`], manufacturer: 'Tesla', via_device: 'fleet_telemetry_telemetry' });
        }
      }
      const conn = entities.filter((e) => e.config.state_topic === `telemetry/${v}/presence`);
      t.equal(conn.length, 1, `${v}: one connectivity entity`);
      t.equal(conn[0]?.config.device_class, 'connectivity');
    }
    const named = entities.find((e) => e.objectId === 'VehicleName' && (e.config.device as { identifiers: string[] }).identifiers[0] === `tesla_${vins[1]}`);
    t.match(
      named?.config.device,
      { name: `Emulated ${vins[1].slice(-4)}`, model: 'Model 3', sw_version: '2024.26.7 emulator' },
      'the device is named from VehicleName',
    );
    for (const topic of serverStatusConfigs('homeassistant', 'fleet_telemetry_telemetry'))
      t.ok(
        entities.some((e) => e.topic === topic),
        `the server has its entity (${topic})`,
      );

    // Owner words for names, ids from the field names as ever, one name per entity of a car.
    const ofCar = (e: Entity) => (e.config.device as { identifiers: string[] }).identifiers[0] === `tesla_${vins[0]}`;
    const configOf = (objectId: string) => entities.find((e) => ofCar(e) && e.objectId === objectId)?.config;
    for (const [objectId, name] of [
      ['TpmsPressureFl', 'Tire pressure front left'],
      ['Soc', 'State of charge'],
      ['EstBatteryRange', 'Estimated battery range'],
      ['ACChargingPower', 'AC charging power'],
      ['Locked', 'Lock'],
      ['DoorState_TrunkFront', 'Front trunk'],
      ['TpmsHardWarnings_front_left', 'Tire pressure hard warning front left'],
      ['connectivity', 'Connectivity'],
    ]) {
      t.match(configOf(objectId), { name, unique_id: `tesla_${vins[0]}_${objectId}` }, `${objectId}: "${name}"`);
    }
    const names = entities.filter(ofCar).map((e) => e.config.name as string);
    t.equal(new Set(names).size, names.length, `${names.length} entities of a car, each with its own name`);

    // Render every template on every payload published on the topic it reads.
    const jobs: { template: string; payload: string; e: Entity; field: string }[] = [];
    for (const e of entities) {
      const read = e.config.state_topic ?? e.config.json_attributes_topic;
      const template = (e.config.value_template ?? e.config.json_attributes_template) as string | undefined;
      if (!read || !template) continue;
      const field = read.split('/').pop()!;
      const seen = new Set<string>();
      for (const m of sub.messages) {
        if (m.topic !== read || seen.has(m.payload)) continue;
        seen.add(m.payload);
        jobs.push({ template, payload: m.payload, e, field });
      }
    }
    const out = render(jobs);
    let checked = 0;
    const samples: string[] = [];
    jobs.forEach((j, i) => {
      const r = out[i];
      const parsed = JSON.parse(j.payload) as unknown;
      const v = j.e.config.state_topic?.endsWith('/presence') ? parsed : format === 'value' ? (parsed as { value: unknown }).value : parsed;
      const want = expected(j.e, j.field, v);
      if (r.error !== undefined) return t.fail(`${j.e.topic} on ${j.payload}: ${r.error}`);
      const got =
        typeof want === 'number'
          ? Number(r.ok)
          : typeof want === 'object' && want !== null
            ? JSON.parse(r.ok!)
            : want === 'None' || typeof want === 'string'
              ? r.ok
              : JSON.parse(r.ok!);
      if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`${j.e.topic} on ${j.payload}: rendered ${r.ok}, expected ${JSON.stringify(want)}`);
      else checked++;
      if (/"60\.50000"|"12345"|null|"42"|"99"/.test(j.payload) && samples.length < 12) samples.push(`${j.e.objectId} ${j.payload} → ${r.ok}`);
    });
    t.equal(checked, jobs.length, `${checked} renders as expected`);
    t.ok(jobs.length > 100, `${jobs.length} template × payload pairs`);
    for (const odd of ['"60.50000"', '"12345"', 'null', '"42"', '"99"']) {
      t.ok(
        jobs.some((j) => j.payload.includes(odd)),
        `rendered on a published ${odd}`,
      );
    }
    t.comment(samples.join('\n'));

    // Nothing under topic_base is the server's, and all of it is JSON (the status lives outside).
    const under = sub.messages.filter((m) => m.topic.startsWith('telemetry/'));
    t.ok(
      under.every((m) => m.topic.split('/')[1] !== '_server'),
      'no server topic under topic_base',
    );
    t.doesNotThrow(() => under.forEach((m) => JSON.parse(m.payload)), 'every message under topic_base is JSON');

    // Retained: a subscriber that comes later gets every config.
    const late = await subscribe(broker.url, 'homeassistant/#');
    t.teardown(() => late.close());
    await late.waitFor((m) => entities.every((e) => m.some((x) => x.topic === e.topic)), 10_000, 'retained configs');
    t.ok(
      late.messages.every((m) => m.retain),
      'every config is retained',
    );

    // Home Assistant's birth message: every config again.
    const before = sub.messages.length;
    await sub.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await sub.waitFor((m) => entities.every((e) => m.slice(before).some((x) => x.topic === e.topic)), 10_000, 'configs after the birth message');
    t.pass(`all ${entities.length} configs published again on homeassistant/status = online`);
    await server.waitForLog((l) => l.event === 'ha_birth');
  });
}

t.test('after the broker restarts (retained messages lost): configs again, and the birth message still heard', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const broker = await startMosquitto(dir);
  t.teardown(() => broker.stop());
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: tlsOf(pki),
    mqtt: {
      broker: `127.0.0.1:${broker.port}`,
      qos: 1,
      client_id: 'ha-restart',
      connect_retry_interval_ms: 200,
      ha_discovery: { enabled: true, prefix: 'ha' },
    },
  });
  t.teardown(() => server.stop());
  const vin = emulatorVin(7);
  const car = await connectVehicle(server.port, await pki.vehicle(vin), pki.ca.certPem);
  t.teardown(() => car.close());
  car.send(
    vFrame('one', vin, [
      { key: 'Soc', value: { double_value: 50 } },
      { key: 'Gear', value: { shift_state_value: 2 } },
    ]),
  );
  t.equal((await car.response('one')).kind, 'ack');
  const configs = [
    `ha/sensor/${vin}/Soc/config`,
    `ha/sensor/${vin}/Gear/config`,
    `ha/binary_sensor/${vin}/connectivity/config`,
    ...serverStatusConfigs('ha', 'fleet_telemetry_telemetry'),
  ];
  const first = await subscribe(broker.url, 'ha/#');
  await first.waitFor((m) => configs.every((c) => m.some((x) => x.topic === c && x.retain)), 10_000, 'retained configs');
  await first.close();

  await broker.restart();
  // Every process is its own MQTT client (make test-workers): each must be back.
  const clients = testWorkers().workers ?? 1;
  await waitUntil(() => server.logs.filter((l) => l.event === 'mqtt_reconnected').length >= clients, 15_000, `${clients} MQTT client(s) reconnected`);
  const second = await subscribe(broker.url, 'ha/#');
  t.teardown(() => second.close());
  // The republish may come before this subscription (retained copies) or after it (live copies,
  // which carry no retain flag): either way each config arrives, and then a new subscriber must
  // find it retained.
  await second.waitFor((m) => configs.every((c) => m.some((x) => x.topic === c)), 10_000, 'configs published again after the restart');
  const third = await subscribe(broker.url, 'ha/#');
  await third.waitFor((m) => configs.every((c) => m.some((x) => x.topic === c && x.retain)), 10_000, 'configs retained again after the restart');
  await third.close();
  t.pass('every config is retained again after the broker lost them');
  const before = second.messages.length;
  await second.client.publishAsync('ha/status', 'online', { qos: 0 });
  await second.waitFor((m) => configs.every((c) => m.slice(before).some((x) => x.topic === c)), 10_000, 'birth after reconnect');
  t.pass('subscribed again on reconnect: the birth message is heard');
  await second.client.publishAsync('ha/status', 'offline', { qos: 1 });
  await car.close();
});
