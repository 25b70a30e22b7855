import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { protosDir, vehicleSchema } from '../src/record/schema.js';
import { fixturesDir } from './helpers/fixtures.js';

// protos/*.proto must match the contract's descriptor number for number (vehicles encode with
// it). Both sides are flattened into "kind path → description" entries and compared both ways.

type Model = Map<string, string>;

interface JsonNode {
  nested?: Record<string, JsonNode>;
  fields?: Record<string, { id: number; type: string; rule?: string; keyType?: string }>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  options?: unknown;
}

function fieldText(f: { id: number; type: string; rule?: string; keyType?: string }): string {
  return JSON.stringify({ id: f.id, type: f.type, rule: f.rule ?? null, keyType: f.keyType ?? null });
}

/** The descriptor as written, walked without protobufjs so its reading of JSON plays no part. */
function modelFromJson(root: JsonNode): Model {
  const m: Model = new Map();
  const walk = (node: JsonNode, prefix: string) => {
    for (const [name, child] of Object.entries(node.nested ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (child.values) {
        m.set(`enum ${path}`, '');
        for (const [v, n] of Object.entries(child.values)) m.set(`enum value ${path}.${v}`, String(n));
      } else if (child.fields) {
        m.set(`message ${path}`, '');
        for (const [f, d] of Object.entries(child.fields)) m.set(`field ${path}.${f}`, fieldText(d));
        for (const [o, d] of Object.entries(child.oneofs ?? {})) m.set(`oneof ${path}.${o}`, [...d.oneof].sort().join(','));
      } else {
        m.set(`package ${path}`, '');
      }
      walk(child, path);
    }
  };
  walk(root, '');
  return m;
}

/** The same entries from a loaded protobufjs root (google.* comes from protobufjs, not protos/). */
function modelFromRoot(root: protobuf.Root): Model {
  const m: Model = new Map();
  const walk = (ns: protobuf.NamespaceBase, prefix: string) => {
    for (const obj of ns.nestedArray) {
      const path = prefix ? `${prefix}.${obj.name}` : obj.name;
      if (!prefix && obj.name === 'google') continue;
      if (obj instanceof protobuf.Enum) {
        m.set(`enum ${path}`, '');
        for (const [v, n] of Object.entries(obj.values)) m.set(`enum value ${path}.${v}`, String(n));
        continue;
      }
      if (obj instanceof protobuf.Type) {
        m.set(`message ${path}`, '');
        for (const f of obj.fieldsArray) {
          const keyType = f instanceof protobuf.MapField ? f.keyType : undefined;
          m.set(`field ${path}.${f.name}`, fieldText({ id: f.id, type: f.type, rule: f.rule, keyType }));
        }
        for (const o of obj.oneofsArray) m.set(`oneof ${path}.${o.name}`, [...o.oneof].sort().join(','));
      } else if (obj instanceof protobuf.Namespace) {
        m.set(`package ${path}`, '');
      } else {
        m.set(`unexpected ${path}`, obj.constructor.name);
      }
      if (obj instanceof protobuf.Namespace) walk(obj, path);
    }
  };
  walk(root, '');
  return m;
}

interface Drift {
  missing: string[];
  extra: string[];
  changed: string[];
}

function drift(expected: Model, actual: Model): Drift {
  const d: Drift = { missing: [], extra: [], changed: [] };
  for (const [k, v] of expected) {
    if (!actual.has(k)) d.missing.push(k);
    else if (actual.get(k) !== v) d.changed.push(`${k}: expected ${v}, got ${actual.get(k)}`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) d.extra.push(k);
  return d;
}

const descriptor = JSON.parse(readFileSync(join(fixturesDir(), 'vehicle-schema.json'), 'utf8')) as JsonNode;
const expected = modelFromJson(descriptor);

// Every .proto in protos/, not just the list the server loads, so a stray file is noticed too.
function loadAllProtos(): protobuf.Root {
  const dir = protosDir();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.proto'))
    .map((f) => join(dir, f));
  const root = new protobuf.Root().loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

t.test('the descriptor itself has every kind of entry', async (t) => {
  const kinds = new Set([...expected.keys()].map((k) => k.split(' ').slice(0, -1).join(' ')));
  t.same([...kinds].sort(), ['enum', 'enum value', 'field', 'message', 'oneof', 'package']);
  t.ok(expected.size > 500, `${expected.size} entries`);
});

for (const [label, load] of [
  ['all protos/*.proto', loadAllProtos],
  ['vehicleSchema() as the server loads it', vehicleSchema],
] as const) {
  t.test(`${label} match vehicle-schema.json`, async (t) => {
    const actual = modelFromRoot(load());
    const d = drift(expected, actual);
    t.same(d.missing, [], 'nothing in the descriptor is missing from protos/');
    t.same(d.extra, [], 'protos/ has nothing the descriptor lacks');
    t.same(d.changed, [], 'every id, type, rule, keyType, oneof and enum number agrees');
    // Each mismatch fails under its own name, so a report says exactly what drifted.
    let checked = 0;
    for (const [k, v] of expected) {
      if (actual.get(k) === v) checked++;
      else t.fail(k);
    }
    t.equal(checked, expected.size, `${checked} entries compared`);
  });
}

t.test('every field type resolves (no dangling reference)', async (t) => {
  const root = vehicleSchema();
  const unresolved: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        for (const f of obj.fieldsArray) {
          f.resolve();
          const scalar = f.type in protobuf.types.basic || f.type in protobuf.types.defaults;
          if (!scalar && !f.resolvedType) unresolved.push(`${obj.fullName}.${f.name}`);
        }
      }
      if (obj instanceof protobuf.Namespace) walk(obj);
    }
  };
  walk(root);
  t.same(unresolved, []);
});

t.test('the comparison catches drift', async (t) => {
  const base = modelFromRoot(vehicleSchema());
  t.same(drift(expected, base), { missing: [], extra: [], changed: [] }, 'baseline is clean');

  const mutate = (edit: (j: JsonNode) => void): Drift => {
    const j = JSON.parse(JSON.stringify(descriptor)) as JsonNode;
    edit(j);
    return drift(modelFromJson(j), base);
  };
  const vd = (j: JsonNode) => j.nested!.telemetry.nested!.vehicle_data.nested!;

  let d = mutate((j) => (vd(j).Value.fields!.float_value.id = 44));
  t.same(
    d.changed,
    [
      'field telemetry.vehicle_data.Value.float_value: expected {"id":44,"type":"float","rule":null,"keyType":null}, got {"id":4,"type":"float","rule":null,"keyType":null}',
    ],
    'a field number',
  );
  d = mutate((j) => (vd(j).Value.fields!.float_value.type = 'double'));
  t.equal(d.changed.length, 1, 'a field type');
  d = mutate((j) => (vd(j).Payload.fields!.data.rule = undefined));
  t.equal(d.changed.length, 1, 'a field rule');
  d = mutate((j) => (j.nested!.telemetry.nested!.vehicle_error.nested!.VehicleError.fields!.tags.keyType = 'int32'));
  t.equal(d.changed.length, 1, 'a map key type');
  d = mutate((j) => vd(j).Value.oneofs!.value.oneof.pop());
  t.equal(d.changed.length, 1, 'a oneof member');
  d = mutate((j) => delete vd(j).ShiftState.values!.ShiftStateSNA);
  t.same(d.extra, ['enum value telemetry.vehicle_data.ShiftState.ShiftStateSNA'], 'an enum value protos/ has and the descriptor lacks');
  d = mutate((j) => (vd(j).ShiftState.values!.ShiftStateX = 7));
  t.same(d.missing, ['enum value telemetry.vehicle_data.ShiftState.ShiftStateX'], 'an enum value protos/ lacks');
  d = mutate((j) => (vd(j).Field.values!.Soc = 80));
  t.equal(d.changed.length, 1, 'an enum number');
  d = mutate((j) => (vd(j).Extra = { fields: { a: { id: 1, type: 'string' } } }));
  t.same(d.missing.sort(), ['field telemetry.vehicle_data.Extra.a', 'message telemetry.vehicle_data.Extra'], 'a message');
  d = mutate((j) => delete j.nested!.telemetry.nested!.vehicle_metrics);
  t.ok(d.extra.includes('package telemetry.vehicle_metrics'), 'a package');
});
