import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fieldConfigs, shapeOf } from '../src/publish/discovery.js';
import { FIELD_RULES } from '../src/publish/ha-fields.js';
import { HA_MEMBER_NAMES, HA_NAMES } from '../src/publish/ha-names.js';
import { lookupEnum, lookupType } from '../src/record/schema.js';
import { fixturesDir } from './helpers/fixtures.js';
import { discoveryOptions as opts } from './helpers/ha-options.js';

// Home Assistant entity names: one for every field of the schema, in words a car owner reads.
// The field list is read from the schema at run time (the .proto the server parses and the JSON
// descriptor beside the tests), never copied here, so a new field without a name fails.

const VIN = '5YJ3E1EA7KF000001';

const protoFields = Object.keys(lookupEnum('telemetry.vehicle_data.Field').values);
type Node = { nested?: Record<string, Node>; values?: Record<string, number> };
const descriptor = JSON.parse(readFileSync(join(fixturesDir(), 'vehicle-schema.json'), 'utf8')) as Node;
const jsonFields = Object.keys(descriptor.nested!.telemetry.nested!.vehicle_data.nested!.Field.values!);

// The abbreviations of Tesla's field names (and a few more of the same kind). The rule: none of
// these may stand as a word of an entity name, except the owner-facing acronyms below, and those
// only in capitals ("AC charging power" passes, "Ac charging power" does not).
const ABBREVIATIONS = [
  'tpms',
  'bms',
  'di',
  'soc',
  'est',
  'fl',
  'fr',
  'rl',
  'rr',
  'hvac',
  'dcdc',
  'ptc',
  'hv',
  'lv',
  'ui',
  'bmp',
  'pcs',
  'cp',
  'ac',
  'dc',
  'pct',
  'temp',
  'max',
  'min',
  'avg',
  'btn',
  'sw',
  'dcfc',
  'ev',
  'gps',
  'id',
  'pin',
  'num',
  'qty',
  'pos',
  'cmd',
  'regen',
  'vbat',
  'rel',
  'rer',
  're1',
  're2',
  'l0',
  'l1',
  'r0',
  'r1',
  'fd',
  'fp',
  'rd',
  'rp',
  'kw',
  'kwh',
  'mph',
  'hvil',
  'fullchargecomplete',
  'torquemotor',
  'lightbar',
  'semitruck',
];
const ACRONYMS = ['AC', 'DC', 'GPS', 'PIN'];
// Names of Tesla's products, capitalised wherever they stand.
const PROPER_NOUNS = ['HomeLink', 'Powershare', 'Semi', 'Supercharger'];

/** Why `name` is not an owner's name, or undefined when it is. */
function fault(name: string): string | undefined {
  const words = name.split(/[\s-]+/);
  for (const w of name.split(/[^A-Za-z0-9]+/).filter(Boolean)) {
    if (ABBREVIATIONS.includes(w.toLowerCase()) && !ACRONYMS.includes(w)) return `abbreviation "${w}"`;
    if (/^[A-Za-z]$/.test(w) && w !== 'a') return `single letter "${w}"`;
    const noun = PROPER_NOUNS.find((p) => p.toLowerCase() === w.toLowerCase());
    if (noun !== undefined && w !== noun) return `"${w}" is spelled ${noun}`;
  }
  if (!/^[A-Z0-9]/.test(name)) return 'does not start with a capital';
  if (name !== name.trim() || /\s{2}/.test(name)) return 'stray spaces';
  for (const w of words.slice(1)) {
    const ok = /^[a-z0-9]+$/.test(w) || ACRONYMS.includes(w) || PROPER_NOUNS.includes(w);
    if (!ok) return `"${w}" is not sentence case`;
  }
  if (!/^[A-Z0-9][a-z0-9]*$/.test(words[0]) && !ACRONYMS.includes(words[0]) && !PROPER_NOUNS.includes(words[0])) return `"${words[0]}" is not sentence case`;
  return undefined;
}

/** Every entity name one vehicle device can have: fields, members, connectivity. */
function allNames(): string[] {
  const members = [...HA_MEMBER_NAMES.values()].flatMap((m) => [...m.values()]);
  return [...HA_NAMES.values(), ...members, 'Connectivity'];
}

t.test('the rule itself: the mechanical names fail, owner names pass', async (t) => {
  for (const bad of [
    'Tpms pressure fl',
    'Bms fullchargecomplete',
    'Di stator temp R',
    'Soc',
    'Est battery range',
    'Ac charging power',
    'Hvac fan speed',
    'Module temp max',
    'DC charging Power',
    'tire pressure',
    'Homelink nearby',
    'Tire pressure R',
  ]) {
    t.ok(fault(bad), `refused: ${bad} (${fault(bad)})`);
  }
  for (const good of [
    'Tire pressure front left',
    'State of charge',
    'Rear motor stator temperature',
    'AC charging power',
    'DC-DC converter enabled',
    '24-hour clock setting',
    'GPS heading',
  ]) {
    t.equal(fault(good), undefined, `accepted: ${good}`);
  }
});

t.test('every Field enum value of the schema has a name, and the table names nothing else', async (t) => {
  t.ok(protoFields.length > 250, `${protoFields.length} fields in protos/vehicle_data.proto`);
  t.same([...protoFields].sort(), [...jsonFields].sort(), 'the .proto and the descriptor list the same fields');
  const missing = protoFields.filter((f) => !HA_NAMES.has(f));
  t.same(missing, [], 'no field without a name');
  const stale = [...HA_NAMES.keys()].filter((f) => !protoFields.includes(f));
  t.same(stale, [], 'no name for a field the schema does not have');
  for (const f of FIELD_RULES.keys()) t.ok(HA_NAMES.has(f), `${f}: a field with a discovery rule has a name`);
});

t.test('every member of a flag-set field has a name', async (t) => {
  for (const [field, rule] of FIELD_RULES) {
    if (rule.c !== 'members') continue;
    const members = lookupType(`telemetry.vehicle_data.${rule.type}`).fieldsArray.map((f) => f.name);
    const names = HA_MEMBER_NAMES.get(field);
    t.ok(names, `${field}: its members are named`);
    t.same(
      members.filter((m) => !names?.has(m)),
      [],
      `${field}: every member of ${rule.type} named`,
    );
    t.same(
      [...(names?.keys() ?? [])].filter((m) => !members.includes(m)),
      [],
      `${field}: no name for a member ${rule.type} lacks`,
    );
  }
  t.same(
    [...HA_MEMBER_NAMES.keys()].filter((f) => FIELD_RULES.get(f)?.c !== 'members'),
    [],
    'member names only for flag-set fields',
  );
});

t.test('no name keeps an abbreviation, and every name is sentence case', async (t) => {
  const faults = allNames()
    .map((n) => [n, fault(n)])
    .filter(([, why]) => why !== undefined)
    .map(([n, why]) => `${n}: ${why}`);
  t.same(faults, [], `${allNames().length} names checked`);
});

t.test('names are unique on a vehicle device', async (t) => {
  const seen = new Map<string, number>();
  for (const n of allNames()) seen.set(n.toLowerCase(), (seen.get(n.toLowerCase()) ?? 0) + 1);
  t.same(
    [...seen].filter(([, k]) => k > 1).map(([n]) => n),
    [],
    'no two entities share a name',
  );
});

t.test('discovery names entities from the table and keeps their ids', async (t) => {
  const o = opts();
  const one = (field: string, json = 'null') => fieldConfigs(o, VIN, field, shapeOf(json), {});
  const nameOf = (field: string) => JSON.parse(one(field)[0].payload).name as string;
  t.equal(nameOf('TpmsPressureFl'), 'Tire pressure front left');
  t.equal(nameOf('Soc'), 'State of charge');
  t.equal(nameOf('DiStatorTempR'), 'Rear motor stator temperature');
  t.equal(nameOf('EstBatteryRange'), 'Estimated battery range');
  t.equal(nameOf('BmsFullchargecomplete'), 'Battery full charge complete');
  t.equal(nameOf('Location'), 'Location', 'a device tracker too');
  t.equal(nameOf('SomethingNew'), 'Something new', 'a field newer than the schema: by its words');
  const doors = one('DoorState').map((p) => JSON.parse(p.payload) as { name: string; unique_id: string });
  t.same(doors.find((d) => d.unique_id.endsWith('_DoorState_TrunkFront'))?.name, 'Front trunk');
  const tires = one('TpmsSoftWarnings', '{"front_left":true,"rear_right":false}').map((p) => JSON.parse(p.payload).name as string);
  t.same(tires, ['Tire pressure soft warning front left', 'Tire pressure soft warning rear right'], 'members as the car sent them');
  const unnamed = one('TpmsSoftWarnings', '{"spare":true}').map((p) => JSON.parse(p.payload).name as string);
  t.same(unnamed, ['Tire pressure soft warning spare'], 'a member newer than the schema: after its field');

  // Ids are the field's (and member's) names as before: Home Assistant keeps settings by them.
  for (const field of protoFields) {
    for (const p of one(field)) {
      const c = JSON.parse(p.payload) as Record<string, unknown>;
      const objectId = p.topic.split('/')[3];
      t.ok(objectId === field || objectId.startsWith(`${field}_`), `${field}: topic ${p.topic}`);
      t.equal(c.unique_id, `tesla_${VIN}_${objectId}`, `${field}: unique_id`);
      t.notOk('object_id' in c || 'default_entity_id' in c, `${field}: Home Assistant picks the entity id`);
      t.equal(
        c.name,
        objectId === field ? HA_NAMES.get(field) : HA_MEMBER_NAMES.get(field)?.get(objectId.slice(field.length + 1)),
        `${field}: the name from the table`,
      );
    }
  }
});
