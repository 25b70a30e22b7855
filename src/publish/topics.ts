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

export function vehicleTopicPrefix(topicBase: string, vin: string): string {
  return `${topicBase}/${sanitizeLevel(vin)}/`;
}

export const topicFor = {
  field: (prefix: string, field: string) => `${prefix}v/${sanitizeLevel(field)}`,
  alertCurrent: (prefix: string, name: string) => `${prefix}alerts/${sanitizeLevel(name)}/current`,
  alertHistory: (prefix: string, name: string) => `${prefix}alerts/${sanitizeLevel(name)}/history`,
  error: (prefix: string, name: string) => `${prefix}errors/${sanitizeLevel(name)}`,
  connectivity: (prefix: string) => `${prefix}connectivity`,
};
