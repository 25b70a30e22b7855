/**
 * The Location transform as Tesla's server applies it before dispatching: the string is read by
 * Go's `fmt.Sscanf` with the format `(%f %1s, %f %1s)`, which is looser than this server's MQTT
 * rule (docs/protocol.md §4): a sign, an exponent, `inf`/`nan`, and anything after the closing
 * parenthesis pass.
 */

export interface GoLocation {
  latitude: number;
  longitude: number;
}

/** A cursor over the input that mimics the parts of Go's scanner the format uses. */
class Scan {
  pos = 0;
  constructor(readonly s: string) {}

  /** Go skips spaces and tabs (not newlines in Sscanf) before a verb and for a space in the format. */
  skipSpaces(): void {
    while (this.pos < this.s.length && (this.s[this.pos] === ' ' || this.s[this.pos] === '\t' || this.s[this.pos] === '\r')) this.pos++;
  }

  literal(c: string): boolean {
    if (this.s[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  private accept(chars: string): boolean {
    const c = this.s[this.pos];
    if (c === undefined || !chars.includes(c)) return false;
    this.pos++;
    return true;
  }

  /** `%f`: the token Go's floatToken takes, then strconv.ParseFloat; undefined when it fails. */
  float(): number | undefined {
    this.skipSpaces();
    const start = this.pos;
    this.accept('+-');
    if (this.accept('nN') && this.accept('aA') && this.accept('nN')) return finite(this.s.slice(start, this.pos));
    this.pos = start;
    this.accept('+-');
    if (this.accept('iI') && this.accept('nN') && this.accept('fF')) return finite(this.s.slice(start, this.pos));
    this.pos = start;
    this.accept('+-');
    while (this.accept('0123456789_'));
    if (this.accept('.')) while (this.accept('0123456789_'));
    if (this.accept('eEpP')) {
      this.accept('+-');
      while (this.accept('0123456789'));
    }
    return finite(this.s.slice(start, this.pos));
  }

  /** `%1s`: one character that is not a space, after skipping spaces. */
  oneChar(): string | undefined {
    this.skipSpaces();
    const c = this.s[this.pos];
    if (c === undefined || c === ' ' || c === '\t' || c === '\n' || c === '\r') return undefined;
    const cp = this.s.codePointAt(this.pos)!;
    const ch = String.fromCodePoint(cp);
    this.pos += ch.length;
    return ch;
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** strconv.ParseFloat(s, 64) for what floatToken can return (hex and `_` forms fail here). */
function finite(token: string): number | undefined {
  const t = token.toLowerCase();
  const sign = t.startsWith('-') ? -1 : 1;
  const bare = t.replace(/^[+-]/, '');
  if (bare === 'nan') return NaN;
  if (bare === 'inf') return sign * Infinity;
  if (!DECIMAL.test(token)) return undefined;
  // Go returns ±Inf with an error for a finite literal beyond the double range.
  const n = Number(token);
  return Number.isFinite(n) ? n : undefined;
}

/** Go's ParseLocation: `(37.412374 N, 122.145867 W)` → signed degrees; undefined when Go errs. */
export function parseGoLocation(s: string): GoLocation | undefined {
  const sc = new Scan(s);
  if (!sc.literal('(')) return undefined;
  const lat = sc.float();
  if (lat === undefined) return undefined;
  sc.skipSpaces();
  const latQ = sc.oneChar();
  if (latQ === undefined || !sc.literal(',')) return undefined;
  sc.skipSpaces();
  const lon = sc.float();
  if (lon === undefined) return undefined;
  sc.skipSpaces();
  const lonQ = sc.oneChar();
  if (lonQ === undefined || !sc.literal(')')) return undefined;
  if (latQ !== 'N' && latQ !== 'S') return undefined;
  if (lonQ !== 'E' && lonQ !== 'W') return undefined;
  return { latitude: latQ === 'S' ? -lat : lat, longitude: lonQ === 'W' ? -lon : lon };
}
