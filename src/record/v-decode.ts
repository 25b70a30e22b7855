import { lookupEnum } from './schema.js';
import { readValue, renderValue, type RawValue } from './value.js';
import { vStringJson } from './transforms.js';
import { Wire } from './wire.js';
import type { Datum, Instant } from './types.js';
import { readTimestamp } from './timestamp.js';

let fieldNames: string[] | undefined;

/** Field enum names by number; a number the schema does not know is named by its decimal. */
function fieldName(key: number): string {
  if (!fieldNames) {
    fieldNames = [];
    for (const [n, name] of Object.entries(lookupEnum('telemetry.vehicle_data.Field').valuesById)) {
      if (Number(n) >= 0) fieldNames[Number(n)] = name;
    }
  }
  return (key >= 0 ? fieldNames[key] : undefined) ?? String(key);
}

/** `raw` is the payload's scratch value, cleared here for each datum. */
function readDatum(w: Wire, end: number, raw: RawValue): Datum {
  const outer = w.narrow(end);
  let key = 0;
  raw.member = 0;
  raw.text = raw.num = raw.lo = raw.hi = raw.sub = undefined;
  while (w.pos < end) {
    const tag = w.varint();
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 1 && wt === 0) key = w.varint() | 0;
    else if (id === 2 && wt === 2) {
      const e = w.spanEnd();
      readValue(w, e, raw);
      w.pos = e;
    } else w.skip(wt);
  }
  w.end = outer;
  w.pos = end;
  const json = raw.member === 1 ? vStringJson(key, raw.text ?? '') : renderValue(raw);
  return { key, name: fieldName(key), json };
}

/**
 * telemetry.vehicle_data.Payload, read straight off the wire: this is the hot path, and a
 * generic decoder would build an object per Value only to walk it again for JSON.
 */
export function decodeVPayload(buf: Uint8Array): { data: Datum[]; createdAt?: Instant } {
  const w = new Wire(buf);
  const data: Datum[] = [];
  const raw: RawValue = { member: 0 };
  let createdAt: Instant | undefined;
  while (w.pos < w.end) {
    const tag = w.varint();
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 1 && wt === 2) {
      data.push(readDatum(w, w.spanEnd(), raw));
    } else if (id === 2 && wt === 2) {
      const e = w.spanEnd();
      createdAt = readTimestamp(buf, w.pos, e);
      w.pos = e;
    } else w.skip(wt);
  }
  return { data, createdAt };
}
