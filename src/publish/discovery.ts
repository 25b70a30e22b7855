import { lookupEnum, lookupType } from '../record/schema.js';
import { FIELD_RULES, type FieldRule } from './ha-fields.js';
import { HA_MEMBER_NAMES, HA_NAMES } from './ha-names.js';
import type { Publish, Qos } from './plan.js';
import { discoveryLevel, type TopicNames } from './topics.js';

/**
 * Home Assistant MQTT discovery (docs/protocol.md §5.5): the retained configs that make each field a vehicle sends,
 * its connectivity and the server into entities. Pure rules: given a VIN, a field and the shape
 * of its value, the publishes. Templates use only what both Home Assistant and plain Jinja2 know,
 * and read the configured payload format; each renders `None` (unknown) for a value it cannot use.
 */

/** What a field's first value looked like, when no rule says what the field is. */
type ValueKind = 'number' | 'string' | 'bool' | 'null' | 'location' | 'object';

export interface Shape {
  kind: ValueKind;
  /** Members of an object value (each becomes a binary_sensor). */
  members?: readonly string[];
}

const SHAPES: Record<Exclude<ValueKind, 'object'>, Shape> = {
  number: { kind: 'number' },
  string: { kind: 'string' },
  bool: { kind: 'bool' },
  null: { kind: 'null' },
  location: { kind: 'location' },
};

/** The shape of a value from its JSON text (docs/protocol.md §6.1); objects are parsed, everything else is not. */
export function shapeOf(json: string): Shape {
  const c = json.charCodeAt(0);
  if (c === 0x22) return SHAPES.string;
  if (c === 0x74 || c === 0x66) return SHAPES.bool;
  if (c === 0x6e) return SHAPES.null;
  if (c !== 0x7b) return SHAPES.number;
  try {
    const o = JSON.parse(json) as Record<string, unknown>;
    if ('latitude' in o && 'longitude' in o) return SHAPES.location;
    return { kind: 'object', members: Object.keys(o).filter((k) => typeof o[k] === 'boolean') };
  } catch {
    return SHAPES.string;
  }
}

/** What the vehicle's device is known by, from its VIN and fields seen. */
export interface VehicleInfo {
  name?: string;
  version?: string;
  carType?: string;
}

export interface DiscoveryOptions {
  prefix: string;
  payloadFormat: 'value' | 'raw';
  names: TopicNames;
  /** The server's status topic (availability of every entity); undefined: always available. */
  statusTopic?: string;
  /** With workers: every worker's status topic; an entity is available while any is online. */
  siblingStatusTopics?: string[];
  qos: Qos;
}

const VIN_MODELS: Record<string, string> = { S: 'Model S', '3': 'Model 3', X: 'Model X', Y: 'Model Y', C: 'Cybertruck', R: 'Roadster', T: 'Semi' };

/** "CarTypeModel3" → "Model 3"; from the VIN's fourth character otherwise. */
function modelOf(vin: string, carType?: string): string | undefined {
  if (carType && /^CarType[A-Z]/.test(carType) && carType !== 'CarTypeUnknown') {
    return carType
      .slice(7)
      .replace(/^Model(\w)$/, 'Model $1')
      .replace('SemiTruck', 'Semi');
  }
  return vin.length === 17 ? VIN_MODELS[vin[3]] : undefined;
}

/** "ACChargingPower" → "AC charging power": the words of a name the table does not know. */
function entityName(field: string): string {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .split(' ');
  return words.map((w, i) => (i > 0 && /^[A-Z][a-z]+$/.test(w) ? w.toLowerCase() : w)).join(' ');
}

/** A field's entity name: from the table (ha-names.ts); a field newer than the schema by its words. */
function fieldEntityName(field: string): string {
  return HA_NAMES.get(field) ?? entityName(field);
}

/** The entity name of one member of a field whose value is a set of flags (a door, a tire). */
function memberEntityName(field: string, member: string): string {
  return HA_MEMBER_NAMES.get(field)?.get(member) ?? `${fieldEntityName(field)} ${entityName(member).toLowerCase()}`;
}

/** Names of an enum with their common prefix stripped at a word boundary (ShiftStateD → D). */
export function enumOptions(enumType: string): { full: string; short: string }[] {
  const names = Object.values(lookupEnum(`telemetry.vehicle_data.${enumType}`).valuesById);
  let p = names.reduce((a, b) => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return a.slice(0, i);
  });
  while (p.length > 0 && !names.every((n) => n.length > p.length && /[A-Z0-9]/.test(n[p.length]))) p = p.slice(0, -1);
  return names.map((full) => ({ full, short: full.slice(p.length) }));
}

/** Members of a message value (Doors, TireLocation), in the order the server renders them. */
function messageMembers(type: string): string[] {
  const t = lookupType(`telemetry.vehicle_data.${type}`);
  const order = ['DriverFront', 'PassengerFront', 'DriverRear', 'PassengerRear', 'TrunkFront', 'TrunkRear'];
  const names = t.fieldsArray.map((f) => f.name);
  return type === 'Doors' ? names.sort((a, b) => order.indexOf(a) - order.indexOf(b)) : names;
}

const q = (s: string): string => JSON.stringify(s);

/** The expression of the value in a template: `value_json.value` or `value_json` (raw). */
function head(format: 'value' | 'raw'): string {
  return format === 'value' ? '{% set v = value_json.value if value_json is mapping else None %}' : '{% set v = value_json %}';
}

const templates = {
  number: (f: 'value' | 'raw') => `${head(f)}{{ v | float(None) if v is not sameas true and v is not sameas false else None }}`,
  text: (f: 'value' | 'raw') => `${head(f)}{{ v[:255] if v is string else (None if v is none else v | tojson) }}`,
  bool: (f: 'value' | 'raw', invert = false) =>
    `${head(f)}{{ ${q(invert ? 'OFF' : 'ON')} if v is sameas true else (${q(invert ? 'ON' : 'OFF')} if v is sameas false else None) }}`,
  enumeration: (f: 'value' | 'raw', options: { full: string; short: string }[]) => {
    const m = new Map<string, string>();
    for (const o of options) m.set(o.full, o.short).set(o.short, o.short);
    const dict = [...m].map(([k, v]) => `${q(k)}: ${q(v)}`).join(', ');
    return `${head(f)}{% set m = {${dict}} %}{{ m[v] if v is string and v in m else None }}`;
  },
  member: (f: 'value' | 'raw', member: string) => `${head(f)}{{ (${q('ON')} if v[${q(member)}] is sameas true else ${q('OFF')}) if v is mapping else None }}`,
  attributes: (f: 'value' | 'raw') => `${head(f)}{{ v | tojson }}`,
  /** The vehicle's presence (`{"online": …}`): ON while any connection of it is open. */
  presence: () => `{{ ${q('ON')} if value_json.online is sameas true else (${q('OFF')} if value_json.online is sameas false else None) }}`,
};

/** Identifier of the server's device, which every vehicle device is linked to. */
function serverDeviceId(o: DiscoveryOptions): string {
  return `fleet_telemetry_${discoveryLevel(o.names.base, 'topic base')}`;
}

function vehicleDevice(o: DiscoveryOptions, vin: string, info: VehicleInfo): Record<string, unknown> {
  const d: Record<string, unknown> = { identifiers: [`tesla_${discoveryLevel(vin, 'VIN')}`], name: info.name || vin, manufacturer: 'Tesla' };
  const model = modelOf(vin, info.carType);
  if (model) d.model = model;
  if (info.version) d.sw_version = info.version;
  d.serial_number = vin;
  d.via_device = serverDeviceId(o);
  return d;
}

function availability(o: DiscoveryOptions): Record<string, unknown> {
  if (o.statusTopic === undefined) return {};
  const topics = o.siblingStatusTopics && o.siblingStatusTopics.length > 1 ? o.siblingStatusTopics : [o.statusTopic];
  const list = topics.map((topic) => ({ topic, payload_available: 'online', payload_not_available: 'offline' }));
  return topics.length > 1 ? { availability: list, availability_mode: 'any' } : { availability: list };
}

const ORIGIN = { name: 'fleet-telemetry' };

function publish(o: DiscoveryOptions, component: string, vin: string, objectId: string, config: Record<string, unknown>): Publish {
  const node = discoveryLevel(vin, 'VIN');
  return { topic: `${o.prefix}/${component}/${node}/${objectId}/config`, payload: JSON.stringify(config), qos: o.qos, retain: true };
}

/** A rule for a field with none in the table: by the shape of its value, disabled by default. */
function ruleFor(field: string, shape: Shape): FieldRule {
  const r = FIELD_RULES.get(field);
  if (r) return r;
  switch (shape.kind) {
    case 'bool':
      return { c: 'binary_sensor', disabled: true };
    case 'location':
      return { c: 'device_tracker', disabled: true };
    default:
      return { c: 'text', disabled: true };
  }
}

/** The discovery publishes of one field of one vehicle (one per member for door-like objects). */
export function fieldConfigs(o: DiscoveryOptions, vin: string, field: string, shape: Shape, info: VehicleInfo): Publish[] {
  const rule = ruleFor(field, shape);
  const objectId = discoveryLevel(field, 'field name');
  const base = (id: string, name: string): Record<string, unknown> => ({
    name,
    unique_id: `tesla_${discoveryLevel(vin, 'VIN')}_${id}`,
    ...availability(o),
    device: vehicleDevice(o, vin, info),
    origin: ORIGIN,
  });
  const stateTopic = o.names.field(o.names.vehiclePrefix(vin), field);
  const f = o.payloadFormat;
  const off = (disabled?: boolean) => (disabled ? { enabled_by_default: false } : {});
  switch (rule.c) {
    case 'sensor': {
      const c: Record<string, unknown> = { ...base(objectId, fieldEntityName(field)), state_topic: stateTopic, value_template: templates.number(f) };
      if (rule.dc) c.device_class = rule.dc;
      if (rule.unit) c.unit_of_measurement = rule.unit;
      if (rule.sc) c.state_class = rule.sc;
      return [publish(o, 'sensor', vin, objectId, { ...c, ...off(rule.disabled) })];
    }
    case 'enum': {
      const opts = enumOptions(rule.enumType);
      const c = { ...base(objectId, fieldEntityName(field)), state_topic: stateTopic, value_template: templates.enumeration(f, opts) };
      return [publish(o, 'sensor', vin, objectId, { ...c, device_class: 'enum', options: [...new Set(opts.map((x) => x.short))] })];
    }
    case 'binary_sensor': {
      const c: Record<string, unknown> = { ...base(objectId, fieldEntityName(field)), state_topic: stateTopic, value_template: templates.bool(f, rule.invert) };
      if (rule.dc) c.device_class = rule.dc;
      return [publish(o, 'binary_sensor', vin, objectId, { ...c, ...off(rule.disabled) })];
    }
    case 'text':
      return [
        publish(o, 'sensor', vin, objectId, {
          ...base(objectId, fieldEntityName(field)),
          state_topic: stateTopic,
          value_template: templates.text(f),
          ...off(rule.disabled),
        }),
      ];
    case 'members': {
      const members = shape.members && shape.members.length > 0 ? shape.members : messageMembers(rule.type);
      return members.map((m) => {
        const id = `${objectId}_${discoveryLevel(m, 'member name')}`;
        const c = { ...base(id, memberEntityName(field, m)), state_topic: stateTopic, value_template: templates.member(f, m), device_class: rule.dc };
        return publish(o, 'binary_sensor', vin, id, c);
      });
    }
    case 'device_tracker': {
      const c = {
        ...base(objectId, fieldEntityName(field)),
        json_attributes_topic: stateTopic,
        json_attributes_template: templates.attributes(f),
        source_type: 'gps',
      };
      return [publish(o, 'device_tracker', vin, objectId, { ...c, ...off(rule.disabled) })];
    }
  }
}

/**
 * The vehicle's connectivity as a binary_sensor. It reads the retained presence topic
 * (`<T>/<VIN>/presence`, always JSON), not the connectivity records: those are per connection, and
 * a car that reconnected before its old connection closed would show offline while it streams.
 */
export function connectivityConfig(o: DiscoveryOptions, vin: string, info: VehicleInfo): Publish {
  const prefix = o.names.vehiclePrefix(vin);
  const c = {
    name: 'Connectivity',
    unique_id: `tesla_${discoveryLevel(vin, 'VIN')}_connectivity`,
    ...availability(o),
    device: vehicleDevice(o, vin, info),
    origin: ORIGIN,
    state_topic: o.names.presence(prefix),
    value_template: templates.presence(),
    device_class: 'connectivity',
  };
  return publish(o, 'binary_sensor', vin, 'connectivity', c);
}

/**
 * The server itself: its status topic as a connectivity binary_sensor (none without one). With
 * workers each is its own sensor (`status_w<k>`), or they would overwrite one config with their
 * own state topics.
 */
export function serverConfig(o: DiscoveryOptions): Publish | undefined {
  if (o.statusTopic === undefined) return undefined;
  const id = serverDeviceId(o);
  const k = o.siblingStatusTopics && o.siblingStatusTopics.length > 1 ? o.siblingStatusTopics.indexOf(o.statusTopic) + 1 : 0;
  const c = {
    name: k ? `Status worker ${k}` : 'Status',
    unique_id: `${id}_${discoveryLevel(o.statusTopic.slice(-200), 'status topic')}`,
    device: { identifiers: [id], name: `fleet-telemetry ${o.names.base}`, manufacturer: 'fleet-telemetry' },
    origin: ORIGIN,
    state_topic: o.statusTopic,
    payload_on: 'online',
    payload_off: 'offline',
    device_class: 'connectivity',
  };
  return { topic: `${o.prefix}/binary_sensor/${id}/${k ? `status_w${k}` : 'status'}/config`, payload: JSON.stringify(c), qos: o.qos, retain: true };
}
