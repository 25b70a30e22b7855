/**
 * Number → JSON text rules of contract §6 and the scientific-string transform of §4.
 */

/** Shortest decimal that reads back to the same 32-bit float, in JavaScript's number form. */
export function float32Text(f: number): string {
  if (!Number.isFinite(f)) return 'null';
  // Most telemetry floats round-trip within a few digits; try the short precisions first.
  for (let p = 1; p < 9; p++) {
    const s = f.toPrecision(p);
    const n = Number(s);
    if (Math.fround(n) === f) return String(n);
  }
  return String(Number(f.toPrecision(9)));
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
 * §4: a string holding a decimal mantissa with a point and an exponent is re-written as its
 * 32-bit float value to five decimals; anything else (or outside the float range) is returned as
 * undefined so the caller keeps the string.
 */
export function scientificString(s: string): string | undefined {
  if (!SCI.test(s)) return undefined;
  const f = Math.fround(Number(s));
  if (!Number.isFinite(f)) return undefined;
  return float32FixedFive(f);
}
