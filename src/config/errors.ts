import { FleetTelemetryError } from '../errors.js';

/** A configuration problem an operator can act on: a stable code, a JSON path, one line each. */
export interface ConfigProblem {
  code: string;
  /** JSON Pointer of the offending value ('' for the whole file). */
  path: string;
  message: string;
}

/** Each problem keeps its own code; the error as a whole is config_invalid. */
export class ConfigError extends FleetTelemetryError {
  declare readonly code: 'config_invalid';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super('config_invalid', problems.map((p) => formatProblem(file, p)).join('\n'));
  }
}

/**
 * `file: mqtt.qos: <message> [code /mqtt/qos]`: the dotted form reads like the docs, the pointer
 * is exact even for keys holding dots.
 */
function formatProblem(file: string, p: ConfigProblem): string {
  if (!p.path) return `${file}: ${p.message} [${p.code}]`;
  return `${file}: ${dottedPath(p.path)}: ${p.message} [${p.code} ${p.path}]`;
}

/** "/records/V/0" → "records.V[0]"; keys that are not plain names are quoted. */
export function dottedPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out || '(top level)';
}

/** JSON Pointer segment escaping (RFC 6901). */
export function pointerPart(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Edit distance ignoring case, for "did you mean" on unknown keys, flags and names. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The candidate nearest to name, when near enough to be a plausible typo. */
export function closest(name: string, candidates: string[]): string | undefined {
  const best = nearest(name, candidates);
  return best && best.distance <= Math.max(2, Math.floor(name.length / 2)) ? best.name : undefined;
}

/** The nearest candidate however far; ties go to the first. */
export function nearest(name: string, candidates: string[]): { name: string; distance: number } | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    // Separators often differ in a typo (camelCase, dashes), so compare without them too.
    const d = Math.min(editDistance(name, c), editDistance(squash(name), squash(c)) + 1);
    if (!best || d < best.distance) best = { name: c, distance: d };
  }
  return best;
}

function squash(s: string): string {
  return s.replace(/[-_.\s]/g, '').toLowerCase();
}
