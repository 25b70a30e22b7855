import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordFactory } from '../src/emulator/records.js';
import { decodeRecord } from '../src/record/decode.js';
import { G } from '../src/plugins/driver-score/sample.js';
import { runCli, testdir } from './helpers/cli.js';

// --harsh-every N: trips with a harsh event on demand, and none otherwise.
const VIN = '5YJ3E1EA7KF000041';

function run(harshEvery: number, frames: number) {
  const f = new RecordFactory({ vin: VIN, seed: 77, harshEvery, alertsEvery: 10, errorsEvery: 0 });
  const out = { harsh: 0, harshFrames: [] as number[], maxLongG: 0, maxLatG: 0, gears: new Set<string>(), fields: f.fieldNames };
  for (let i = 1; i <= frames; i++) {
    const r = f.next(1_700_000_000_000 + i * 1000);
    const s = f.car.state;
    if (s.harsh) {
      out.harsh++;
      out.harshFrames.push(i);
      t.equal(r.recordType, 'V', `frame ${i}: a harsh event goes out in a V frame, even on an alerts frame`);
      t.equal(s.phase, 'drive', 'while driving');
    }
    if (r.recordType !== 'V') continue;
    const rec = decodeRecord('V', r.payload, VIN, `t${i}`);
    if (rec.type !== 'V') continue;
    for (const d of rec.data) {
      if (d.name === 'Gear') out.gears.add(JSON.parse(d.json));
      if (d.name === 'LongitudinalAcceleration' && !s.harsh) out.maxLongG = Math.max(out.maxLongG, Math.abs(Number(d.json)) / G);
      if (d.name === 'LateralAcceleration') out.maxLatG = Math.max(out.maxLatG, Math.abs(Number(d.json)) / G);
      if (d.name === 'LongitudinalAcceleration' && s.harsh) t.ok(Math.abs(Number(d.json)) / G >= 0.45, `harsh ${s.harsh}: ${d.json} m/s²`);
    }
  }
  return out;
}

t.test('harshEvery 10: events while driving, P → D → P trips, the trip fields in every V frame', async (t) => {
  const r = run(10, 400);
  t.ok(r.harsh >= 20, `harsh events: ${r.harsh} in 400 frames`);
  t.ok(r.harsh <= 40, 'at most one per 10 frames');
  t.ok(
    r.harshFrames.every((f, i) => i === 0 || f > r.harshFrames[i - 1]),
    'one per frame',
  );
  t.same([...r.gears].sort(), ['ShiftStateD', 'ShiftStateP'], 'drives and parks');
  for (const f of ['Gear', 'VehicleSpeed', 'Odometer', 'Location', 'LongitudinalAcceleration', 'LateralAcceleration'])
    t.ok(r.fields.includes(f), `${f} is sent`);
  t.ok(r.maxLongG < 0.3 && r.maxLatG < 0.3, `outside events, accelerations stay mild (${r.maxLongG.toFixed(3)} g, ${r.maxLatG.toFixed(3)} g)`);
});

t.test('harshEvery 0: no events and the usual fields', async (t) => {
  const r = run(0, 200);
  t.equal(r.harsh, 0);
  t.notOk(r.fields.includes('LongitudinalAcceleration'), 'the default V fields are unchanged');
});

t.test('emulate --harsh-every takes a whole number and is in the help', async (t) => {
  const dir = testdir(t);
  writeFileSync(join(dir, 'ca.pem'), 'not read before the flags are checked');
  const bad = await runCli(['emulate', '--url', 'wss://localhost:1/', '--ca', join(dir, 'ca.pem'), '--harsh-every', '2.5'], dir);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--harsh-every needs a whole number/);
  const help = await runCli(['emulate', '--help'], dir);
  t.match(help.stdout, /--harsh-every N/);
});
