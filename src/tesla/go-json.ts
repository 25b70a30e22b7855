/**
 * JSON as Go's encoding/json writes a map: keys sorted by their UTF-8 bytes at every level,
 * and <, >, &, U+2028, U+2029 escaped. vehicle-command's proxy re-encodes the config that way
 * before signing, so a token made here carries the same claims text as the proxy's.
 */
export function goJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError(`cannot encode ${typeof value} as JSON`);
    return escapeHtml(s);
  }
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${escapeHtml(JSON.stringify(k))}:${goJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
