import { alertInstant, compareInstants } from '../record/timestamp.js';
import type { Alert, AlertsRecord, ConnectivityRecord, ErrorsRecord, VRecord, VehicleRecord } from '../record/types.js';
import { alertObject, connectivityJson, errorJson } from './payloads.js';
import { TopicNames } from './topics.js';

export type Qos = 0 | 1 | 2;

/** One MQTT publish of a record. */
export interface Publish {
  topic: string;
  payload: string;
  qos: Qos;
  retain: boolean;
}

/**
 * A V field's publish in the "value" payload format. Its payload `{"value":<json>}` is made only
 * when something reads it: the MQTT encoder writes the three parts straight into the packet, which
 * saves two cons strings and their flattening per field (bench/README.md, #22).
 */
export class ValuePublish implements Publish {
  constructor(
    readonly topic: string,
    /** The field's value as JSON text. */
    readonly json: string,
    readonly qos: Qos,
    readonly retain: boolean,
  ) {}

  get payload(): string {
    return `{"value":${this.json}}`;
  }
}

/** Per kind of publish: the QoS and retain flag it goes out with. */
export interface PublishKindSettings {
  qos: Qos;
  retain: boolean;
}

export interface PlanOptions {
  topicBase: string;
  payloadFormat: 'value' | 'raw';
  v: PublishKindSettings;
  alertsCurrent: PublishKindSettings;
  alertsHistory: PublishKindSettings;
  errors: PublishKindSettings;
  connectivity: PublishKindSettings;
  /** Topic builder and its caches for topicBase; made on first use when absent. */
  topics?: TopicNames;
  /** Scratch for planV's duplicate check; made on first use when absent. */
  marks?: FieldMarks;
}

export function defaultPlanOptions(topicBase = 'telemetry'): PlanOptions {
  const s: PublishKindSettings = { qos: 0, retain: false };
  return { topicBase, payloadFormat: 'value', v: s, alertsCurrent: s, alertsHistory: s, errors: s, connectivity: s, topics: new TopicNames(topicBase) };
}

/**
 * Marks the fields seen in one record, to spot a field that appears twice without a map per
 * record; a generation counter saves clearing the marks each time. One per PlanOptions.
 */
class FieldMarks {
  private gen = 0;
  private readonly seen = new Uint32Array(1024);

  hasDuplicates(r: VRecord): boolean {
    if (++this.gen === 0xffffffff) {
      this.seen.fill(0);
      this.gen = 1;
    }
    for (const d of r.data) {
      const k = d.key;
      if (k < 0 || k >= this.seen.length) return true; // rare: let the general path sort it out
      if (this.seen[k] === this.gen) return true;
      this.seen[k] = this.gen;
    }
    return false;
  }
}

function planV(r: VRecord, o: PlanOptions, names: TopicNames, prefix: string): Publish[] {
  const { qos, retain } = o.v;
  const wrap = o.payloadFormat === 'value';
  const out: Publish[] = new Array<Publish>(r.data.length);
  if (!(o.marks ??= new FieldMarks()).hasDuplicates(r)) {
    // The common case: every field once, so no map is needed.
    for (let i = 0; i < r.data.length; i++) {
      const d = r.data[i];
      const topic = names.field(prefix, d.name);
      out[i] = wrap ? new ValuePublish(topic, d.json, qos, retain) : { topic, payload: d.json, qos, retain };
    }
    return out;
  }
  // A field that appears twice is published once, with its last value, at its first position.
  const last = new Map<string, string>();
  for (const d of r.data) last.set(d.name, d.json);
  out.length = 0;
  for (const [name, json] of last) {
    const topic = names.field(prefix, name);
    out.push(wrap ? new ValuePublish(topic, json, qos, retain) : { topic, payload: json, qos, retain });
  }
  return out;
}

function planAlerts(r: AlertsRecord, o: PlanOptions, names: TopicNames, prefix: string): Publish[] {
  const byName = new Map<string, Alert[]>();
  for (const a of r.alerts) {
    const alert: Alert = {
      ...a,
      startedAt: a.startedAt && alertInstant(a.startedAt),
      endedAt: a.endedAt && alertInstant(a.endedAt),
    };
    const list = byName.get(a.name);
    if (list) list.push(alert);
    else byName.set(a.name, [alert]);
  }
  const out: Publish[] = [];
  for (const [name, list] of byName) {
    let current: Alert | undefined;
    for (const a of list) {
      if (!a.startedAt) continue;
      if (!current || compareInstants(a.startedAt, current.startedAt!) > 0) current = a;
    }
    if (current) {
      out.push({ topic: names.alertCurrent(prefix, name), payload: JSON.stringify(alertObject(current)), ...o.alertsCurrent });
    }
    out.push({ topic: names.alertHistory(prefix, name), payload: JSON.stringify(list.map(alertObject)), ...o.alertsHistory });
  }
  return out;
}

function planErrors(r: ErrorsRecord, o: PlanOptions, names: TopicNames, prefix: string): Publish[] {
  return r.errors.map((e) => ({ topic: names.error(prefix, e.name), payload: errorJson(e), ...o.errors }));
}

function planConnectivity(r: ConnectivityRecord, o: PlanOptions, names: TopicNames, prefix: string): Publish[] {
  return [{ topic: names.connectivity(prefix), payload: connectivityJson(r), ...o.connectivity }];
}

/**
 * Every publish a record makes (docs/protocol.md §5 and docs/protocol.md §6), tested without a broker. Throws
 * TopicLevelError (the record is wrong in itself) when a name is too long to be a topic level.
 */
export function planPublishes(r: VehicleRecord, o: PlanOptions): Publish[] {
  let names = o.topics;
  if (names === undefined || names.base !== o.topicBase) names = o.topics = new TopicNames(o.topicBase);
  const prefix = names.vehiclePrefix(r.vin);
  switch (r.type) {
    case 'V':
      return planV(r, o, names, prefix);
    case 'alerts':
      return planAlerts(r, o, names, prefix);
    case 'errors':
      return planErrors(r, o, names, prefix);
    case 'connectivity':
      return planConnectivity(r, o, names, prefix);
  }
}
