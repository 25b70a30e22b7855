/** Topic names of contract §5. */

const UNSAFE = /[/+#\u0000]/g;

/** `/ + #` and NUL become `_`, so a name never adds a topic level or a wildcard. */
export function sanitizeLevel(name: string): string {
  return name.replace(UNSAFE, '_');
}

/** The VIN a vehicle is known by: its certificate's common name with every `.` as `-` (§1). */
export function vinFromCommonName(cn: string): string {
  return cn.replace(/\./g, '-');
}

// Both caches are bounded by what they key: Field names (a few hundred) and connected VINs.
const prefixes = new Map<string, Map<string, string>>();
const fieldTopics = new Map<string, string>();

export function vehicleTopicPrefix(topicBase: string, vin: string): string {
  let byVin = prefixes.get(topicBase);
  if (byVin === undefined) prefixes.set(topicBase, (byVin = new Map()));
  let p = byVin.get(vin);
  if (p === undefined) {
    if (byVin.size >= 100_000) byVin.clear();
    p = `${topicBase}/${sanitizeLevel(vin)}/`;
    byVin.set(vin, p);
  }
  return p;
}

/** `v/<Field>` with the name sanitised, cached: the same few hundred names every frame. */
export function fieldTopic(field: string): string {
  let t = fieldTopics.get(field);
  if (t === undefined) {
    t = `v/${sanitizeLevel(field)}`;
    if (fieldTopics.size < 10_000) fieldTopics.set(field, t);
  }
  return t;
}

export const topicFor = {
  field: (prefix: string, field: string) => `${prefix}v/${sanitizeLevel(field)}`,
  alertCurrent: (prefix: string, name: string) => `${prefix}alerts/${sanitizeLevel(name)}/current`,
  alertHistory: (prefix: string, name: string) => `${prefix}alerts/${sanitizeLevel(name)}/history`,
  error: (prefix: string, name: string) => `${prefix}errors/${sanitizeLevel(name)}`,
  connectivity: (prefix: string) => `${prefix}connectivity`,
};
