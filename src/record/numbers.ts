/**
 * Number → JSON text rules of docs/protocol.md §6.1 and docs/protocol.md §6.2, and the
 * scientific-string transform of docs/protocol.md §4.
 */

/** Shortest decimal that reads back to the same 32-bit float, in JavaScript's number form. */
export function float32Text(f: number): string {
  if (!Number.isFinite(f)) return 'null';
  const a = Math.abs(f);
  F32_TEXT.setFloat32(0, a);
  if ((F32_TEXT.getUint32(0) & 0x7fffff) === 0) return powerOfTwoText(f, a);
  const fast = shortestByArithmetic(a);
  if (fast !== undefined) return f < 0 ? '-' + fast : fast;
  // Whether the nearest p-digit decimal reads back is monotonic in p, so binary search over
  // 1..9 digits: 3 toPrecision calls instead of up to 9 (odometers need 8 digits). Measured
  // in bench-micro: the float share of the hot path fell from 18% to about 9%.
  let lo = 1;
  let hi = 9;
  let found = '';
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const t = a.toPrecision(mid);
    if (Math.fround(Number(t)) === a) {
      hi = mid;
      found = t;
    } else lo = mid + 1;
  }
  // The search ends on its last success, so `found` is the lo-digit text (nine digits otherwise).
  const text = found || a.toPrecision(9);
  let n = Number(text);
  // toPrecision rounds half up; shortest text rounds ties to even (as Number#toString does).
  if (lastDigit(text) & 1) n = tieToEven(a, lo, n);
  return String(f < 0 ? -n : n);
}

const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * The usual range of telemetry values, without toPrecision (which costs ~0.3 µs a call): scale
 * to p digits, round, scale back, and check the float reads back. Scaling is exact to well below
 * 1e-6 here, so a fraction within 1e-6 of one half (a possible tie) goes to the exact path.
 * Measured in bench-micro: float text fell from about 20% of the frame path to under 5%.
 */
function shortestByArithmetic(a: number): string | undefined {
  if (!(a >= 1e-3 && a < 1e9)) return undefined;
  let e = Math.floor(Math.log10(a));
  // log10 can be one off next to a power of ten; fix e exactly.
  if (e >= 0) {
    if (a < POW10[e]) e--;
    else if (a >= POW10[e + 1]) e++;
  } else {
    if (a * POW10[-e] < 1) e--;
    else if (a * POW10[-e] >= 10) e++;
  }
  for (let p = 1; p <= 9; p++) {
    const k = p - 1 - e;
    if (k > 22 || k < -22) return undefined;
    const x = k >= 0 ? a * POW10[k] : a / POW10[-k];
    const frac = x - Math.floor(x);
    if (Math.abs(frac - 0.5) < 1e-6) return undefined;
    const m = Math.round(x);
    const candidate = k >= 0 ? m / POW10[k] : m * POW10[-k];
    if (Math.fround(candidate) === a) return String(candidate);
  }
  return undefined;
}

/** Powers of two: the rounding interval below is half as wide, so check both neighbours. */
function powerOfTwoText(f: number, a: number): string {
  for (let p = 1; p < 10; p++) {
    const s = a.toPrecision(p);
    let n = Number(s);
    if (Math.fround(n) === a) {
      if (lastDigit(s) & 1) n = tieToEven(a, p, n);
      return String(f < 0 ? -n : n);
    }
    // The nearest p-digit decimal may miss while its neighbour on the wider side reads back.
    const [digits, k] = decimalParts(a.toExponential(p - 1), p);
    const up = Number(`${digits + 1}e${k}`);
    if (Math.fround(up) === a) return String(f < 0 ? -up : up);
  }
  return String(f); // unreachable: nine digits always read back
}

const F32_TEXT = new DataView(new ArrayBuffer(4));

/** The last mantissa digit of a toPrecision/toExponential text, as its char code (parity kept). */
function lastDigit(s: string): number {
  const e = s.indexOf('e');
  return s.charCodeAt((e < 0 ? s.length : e) - 1);
}

/** d.ddd…e±x with p digits → [the digits as an integer, exponent of the last digit]. */
function decimalParts(s: string, p: number): [number, number] {
  const e = s.indexOf('e');
  return [Number(s.slice(0, e).replace('.', '')), Number(s.slice(e + 1)) - (p - 1)];
}

/**
 * `n` is a's nearest p-digit decimal, rounded up from an exact tie when a lies exactly halfway;
 * then the even neighbour below is the shortest form, if it reads back too.
 */
function tieToEven(a: number, p: number, n: number): number {
  const wider = a.toExponential(p); // p+1 digits: a tie makes this exact, ending in 5
  if (lastDigit(wider) !== 53 || Number(wider) !== a) return n;
  const [t, j] = decimalParts(wider, p + 1);
  if (!isExactTie(a, t, j)) return n;
  const down = Number(`${(t - 5) / 10}e${j + 1}`);
  return Math.fround(down) === a ? down : n;
}

/** Whether the double `x` equals t × 10^j exactly (t an integer). */
function isExactTie(x: number, t: number, j: number): boolean {
  const [m, b] = exactBinary(x);
  return compareScaled(BigInt(t), j, m, b) === 0;
}

const F64 = new DataView(new ArrayBuffer(8));

/** A finite non-negative double as m × 2^b exactly. */
function exactBinary(x: number): [bigint, number] {
  F64.setFloat64(0, x);
  const hi = F64.getUint32(0);
  const lo = F64.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  return exp === 0 ? [frac, -1074] : [frac | (1n << 52n), exp - 1075];
}

/** Sign of i × 10^j − m × 2^b, exactly. */
function compareScaled(i: bigint, j: number, m: bigint, b: number): number {
  let l = i;
  let r = m;
  if (j >= 0) l *= 10n ** BigInt(j);
  else r *= 10n ** BigInt(-j);
  if (b >= 0) r <<= BigInt(b);
  else l <<= BigInt(-b);
  return l < r ? -1 : l > r ? 1 : 0;
}

/** Shortest round-trip text of a double, or null for NaN/±Infinity. */
export function float64Text(d: number): string {
  return Number.isFinite(d) ? String(d) : 'null';
}

const TWO32 = 4294967296;

/** Signed 64-bit integer from its two 32-bit halves, every digit exact. */
export function int64Text(lo: number, hi: number): string {
  const h = hi | 0;
  // Within ±2^53 a double is exact and much cheaper than BigInt.
  if (h >= -0x200000 && h < 0x200000) return String(h * TWO32 + (lo >>> 0));
  return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString();
}

const SCI = /^[+-]?(\d*\.\d+|\d+\.\d*)([eE][+-]?\d+)$/;

const F32_BUF = new DataView(new ArrayBuffer(4));

/** Exact decimal of a 32-bit float rounded to five decimals, ties to even, no exponent. */
export function float32FixedFive(f: number): string {
  F32_BUF.setFloat32(0, f);
  const bits = F32_BUF.getUint32(0);
  const negative = bits >>> 31 === 1;
  const exp = (bits >>> 23) & 0xff;
  const frac = bits & 0x7fffff;
  // value = mant × 2^e exactly
  const mant = BigInt(exp === 0 ? frac : frac | 0x800000);
  const e = exp === 0 ? -149 : exp - 150;
  let scaled: bigint; // value × 10^5, rounded half to even
  if (e >= 0) {
    scaled = (mant << BigInt(e)) * 100000n;
  } else {
    const num = mant * 100000n;
    const den = 1n << BigInt(-e);
    let q = num / den;
    const r = num - q * den;
    const twice = r * 2n;
    if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
    scaled = q;
  }
  const digits = scaled.toString().padStart(6, '0');
  const text = `${digits.slice(0, -5)}.${digits.slice(-5)}`;
  return negative ? `-${text}` : text;
}

/**
 * docs/protocol.md §4: a string holding a decimal mantissa with a point and an exponent is re-written as its
 * 32-bit float value to five decimals; anything else (or outside the float range) is returned as
 * undefined so the caller keeps the string.
 */
export function scientificString(s: string): string | undefined {
  // Most strings (names, versions) have no exponent: skip the regex for them.
  if (s.indexOf('e') < 0 && s.indexOf('E') < 0) return undefined;
  if (!SCI.test(s)) return undefined;
  const f = parseFloat32(s);
  if (!Number.isFinite(f)) return undefined;
  return float32FixedFive(f);
}

const F32_MAX = 3.4028234663852886e38;
const F32_BITS = new DataView(new ArrayBuffer(4));

/**
 * A decimal string rounded once, to the nearest 32-bit float. Math.fround(Number(s)) rounds
 * twice and goes wrong when the double lands exactly on a midpoint between two floats.
 */
export function parseFloat32(s: string): number {
  const d = Number(s);
  const f = Math.fround(d);
  if (f === d || Number.isNaN(d) || !Number.isFinite(d)) return f;
  const a = Math.abs(d);
  const fa = Math.abs(f);
  // The two floats around d (2^128 standing in for the step past the largest float).
  let lower: number;
  let upper: number;
  if (fa === Infinity) {
    lower = F32_MAX;
    upper = 2 ** 128;
  } else {
    F32_BITS.setFloat32(0, fa);
    F32_BITS.setUint32(0, F32_BITS.getUint32(0) + (fa < a ? 1 : -1));
    const other = F32_BITS.getFloat32(0);
    lower = fa < a ? fa : other;
    upper = fa < a ? (other === Infinity ? 2 ** 128 : other) : fa;
  }
  const mid = (lower + upper) / 2;
  if (a !== mid) return f;
  // The double is a float midpoint: compare the decimal itself with it.
  const m = /^[+-]?(\d*)\.?(\d*)[eE]([+-]?\d+)$/.exec(s);
  if (!m) return f;
  const digits = BigInt((m[1] + m[2]).replace(/^0+/, '') || '0');
  const exp = Number(m[3]) - m[2].length;
  const [mm, mb] = exactBinary(mid);
  const c = compareScaled(digits, exp, mm, mb);
  const pick = c === 0 ? fa : c > 0 ? (upper === 2 ** 128 ? Infinity : upper) : lower;
  return d < 0 ? -pick : pick;
}
