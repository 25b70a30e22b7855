import t from 'tap';
import { float32FixedFive, float32Text, float64Text, int64Text, parseFloat32, scientificString } from '../src/record/numbers.js';
import { locationString, vStringJson } from '../src/record/transforms.js';

// The number rules of §4 and §6 against slow, exact references written here with BigInt, over
// many seeded random values and the known hard cases (ties, powers of two, midpoints).

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const dv = new DataView(new ArrayBuffer(8));
function floatFromBits(bits: number): number {
  dv.setUint32(0, bits >>> 0);
  return dv.getFloat32(0);
}

/** A finite non-negative double exactly, as numerator / 2^shift. */
function exact(x: number): { num: bigint; shift: bigint } {
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (e) m |= 1n << 52n;
  const b = (e || 1) - 1075;
  return b >= 0 ? { num: m << BigInt(b), shift: 0n } : { num: m, shift: BigInt(-b) };
}

/** |d × 10^k − x| scaled by a factor common to every d at the same k. */
function distance(d: bigint, k: number, x: number): bigint {
  const { num, shift } = exact(x);
  let a = d << shift;
  let b = num;
  if (k >= 0) a *= 10n ** BigInt(k);
  else b *= 10n ** BigInt(-k);
  return a > b ? a - b : b - a;
}

/** Shortest decimal that reads back as the float, nearest of those, ties to even digits. */
function refFloat32Text(f: number): string {
  if (!Number.isFinite(f)) return 'null';
  const a = Math.abs(f);
  if (a === 0) return '0';
  for (let p = 1; p <= 9; p++) {
    const [m, e] = a.toExponential(p - 1).split('e');
    const k = Number(e) - (p - 1);
    const mid = BigInt(m.replace('.', ''));
    const ok: bigint[] = [];
    for (let d = mid - 2n; d <= mid + 2n; d++) if (d > 0n && Math.fround(Number(`${d}e${k}`)) === a) ok.push(d);
    if (!ok.length) continue;
    ok.sort((x, y) => {
      const dx = distance(x, k, a);
      const dy = distance(y, k, a);
      return dx < dy ? -1 : dx > dy ? 1 : Number(x & 1n) - Number(y & 1n);
    });
    const n = Number(`${ok[0]}e${k}`);
    return String(f < 0 ? -n : n);
  }
  throw new Error('no shortest form');
}

/** A decimal string rounded once to the nearest float32 (ties to even), exactly. */
function refParseFloat32(s: string): number {
  const m = /^([+-]?)(\d*)\.?(\d*)[eE]([+-]?\d+)$/.exec(s)!;
  const neg = m[1] === '-';
  let num = BigInt(m[2] + m[3] || '0');
  const e10 = Number(m[4]) - m[3].length;
  let den = 1n;
  if (e10 >= 0) num *= 10n ** BigInt(e10);
  else den = 10n ** BigInt(-e10);
  if (num === 0n) return neg ? -0 : 0;
  // Binary exponent e with 2^e ≤ num/den < 2^(e+1).
  let e = num.toString(2).length - den.toString(2).length;
  const ge = (a: bigint, b: bigint, sh: number) => (sh >= 0 ? a >= b << BigInt(sh) : a << BigInt(-sh) >= b);
  if (!ge(num, den, e)) e--;
  if (e < -126) e = -126;
  // q = num/den × 2^(23−e), rounded half to even.
  const sh = 23 - e;
  const n2 = sh >= 0 ? num << BigInt(sh) : num;
  const d2 = sh >= 0 ? den : den << BigInt(-sh);
  let q = n2 / d2;
  const r2 = (n2 - q * d2) * 2n;
  if (r2 > d2 || (r2 === d2 && q & 1n)) q++;
  let v: number;
  if (q >= 1n << 24n) v = e + 1 > 127 ? Infinity : 2 ** (e + 1);
  else v = e > 127 ? Infinity : Number(q) * 2 ** (e - 23);
  return neg ? -v : v;
}

/** Exact decimal expansion of a float, then rounded to five places by its digits (half to even). */
function refFixedFive(f: number): string {
  const neg = f < 0 || Object.is(f, -0);
  const { num, shift } = exact(Math.abs(f));
  // num / 2^shift = num × 5^shift / 10^shift
  const digits = (num * 5n ** shift).toString();
  const places = Number(shift);
  const padded = digits.padStart(places + 1, '0');
  const int = padded.slice(0, padded.length - places) || '0';
  const frac = padded.slice(padded.length - places).padEnd(5, '0');
  let kept = BigInt(int + frac.slice(0, 5));
  const rest = frac.slice(5);
  const half = rest.length > 0 && rest[0] === '5' && /^5?0*$/.test(rest);
  if ((rest[0] ?? '0') > '5' || (rest[0] === '5' && !half) || (half && kept & 1n)) kept++;
  const s = kept.toString().padStart(6, '0');
  return `${neg ? '-' : ''}${s.slice(0, -5)}.${s.slice(-5)}`;
}

t.test('float32Text: fixed cases', async (t) => {
  const cases: [number, string][] = [
    [65.4, '65.4'],
    [0.1, '0.1'],
    [3.4028235e38, '3.4028235e+38'],
    [1e-7, '1e-7'],
    [1.4e-45, '1e-45'],
    [1.17549435e-38, '1.1754944e-38'],
    [0.3, '0.3'],
    [100, '100'],
    [1234.21875, '1234.2188'],
    [-7802.65625, '-7802.6562'],
    [2 ** -96, '1.2621775e-29'],
    [2 ** 90, '1.2379401e+27'],
  ];
  for (const [x, want] of cases) t.equal(float32Text(Math.fround(x)), want, `${x}`);
  t.equal(float32Text(NaN), 'null');
  t.equal(float32Text(Infinity), 'null');
  t.equal(float32Text(-Infinity), 'null');
  t.equal(float32Text(-0), '0');
});

t.test('float32Text agrees with the exact reference', async (t) => {
  const rnd = prng(0x5eed);
  let n = 0;
  let bad = 0;
  const check = (f: number) => {
    n++;
    const got = float32Text(f);
    const want = refFloat32Text(f);
    if (got !== want && bad++ < 20) t.fail(`${f}: got ${got}, want ${want}`);
  };
  for (let e = -149; e <= 127; e++) {
    check(Math.fround(2 ** e));
    check(-Math.fround(2 ** e));
  }
  for (let i = 0; i < 60000; i++) {
    const f = floatFromBits((rnd() * 4294967296) >>> 0);
    if (Number.isFinite(f)) check(f);
  }
  // Small binary fractions: many exact ties between two shortest candidates.
  for (let i = 0; i < 20000; i++) check(Math.fround((i - 10000) / 64));
  // Typical telemetry: a few decimals, in range.
  for (let i = 0; i < 20000; i++) check(Math.fround(Number((rnd() * 2000 - 1000).toFixed(i % 6))));
  t.equal(bad, 0, `${n} floats, ${bad} differ`);
});

t.test('float64Text', async (t) => {
  t.equal(float64Text(0.1), '0.1');
  t.equal(float64Text(1e21), '1e+21');
  t.equal(float64Text(1e-7), '1e-7');
  t.equal(float64Text(123.456), '123.456');
  t.equal(float64Text(NaN), 'null');
  t.equal(float64Text(-Infinity), 'null');
});

t.test('int64Text: exact for every 64-bit value', async (t) => {
  const rnd = prng(64);
  const check = (v: bigint) => {
    const u = BigInt.asUintN(64, v);
    const got = int64Text(Number(u & 0xffffffffn), Number(u >> 32n));
    if (got !== BigInt.asIntN(64, v).toString()) t.fail(`${v}: ${got}`);
  };
  const edges = [0n, 1n, -1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n)];
  for (const v of edges) check(v);
  for (let i = 0; i < 20000; i++) {
    const hi = BigInt((rnd() * 4294967296) >>> 0);
    const lo = BigInt((rnd() * 4294967296) >>> 0);
    check((hi << 32n) | lo);
    check(BigInt.asIntN(64, BigInt(Math.floor(rnd() * 2 ** 40)) - 2n ** 39n)); // near zero
    check(BigInt(Math.floor(rnd() * 2 ** 22)) * 2n ** 32n - 2n ** 53n + lo); // near ±2^53
  }
  t.equal(int64Text(0xffffffff, 0xffffffff), '-1');
  t.equal(int64Text(0xffffffff, 0x7fffffff), '9223372036854775807');
  t.equal(int64Text(0, 0x80000000), '-9223372036854775808');
  t.equal(int64Text(1, 0x200000), '9007199254740993');
});

t.test('parseFloat32: rounded once, exactly', async (t) => {
  const rnd = prng(32);
  let n = 0;
  let bad = 0;
  const check = (s: string) => {
    n++;
    const got = parseFloat32(s);
    const want = refParseFloat32(s);
    if (!Object.is(got, want) && bad++ < 20) t.fail(`${s}: got ${got}, want ${want}`);
  };
  // Strings at, just above and just below the midpoint of two neighbouring floats.
  for (let i = 0; i < 3000; i++) {
    const bits = (rnd() * 0x7f7fffff) >>> 0;
    const lo = floatFromBits(bits);
    const hi = floatFromBits(bits + 1);
    const { num, shift } = exact((lo + hi) / 2);
    const digits = (num * 5n ** shift).toString(); // × 10^-shift
    const at = `${digits[0]}.${digits.slice(1) || '0'}e${digits.length - 1 - Number(shift)}`;
    check(at);
    check(`${digits[0]}.${digits.slice(1)}1e${digits.length - 1 - Number(shift)}`);
    const below = (BigInt(digits) * 10n - 1n).toString();
    check(`${below[0]}.${below.slice(1)}e${below.length - 1 - Number(shift) - 1}`);
    check(`-${at}`);
  }
  // Ordinary scientific strings.
  for (let i = 0; i < 5000; i++) {
    const mant = (rnd() * 10).toFixed(1 + (i % 9));
    check(`${mant}e${Math.floor(rnd() * 90) - 50}`);
  }
  for (const s of [
    '3.40282356779733661637539395458142568448e38',
    '3.40282356779733661637539395458142568447e38',
    '1.4e-45',
    '7.0e-46',
    '7.006492321624085354618647916449580656401e-46',
    '1.0e-50',
    '1.6777217e7',
    '1.67772170000000000000001e7',
  ])
    check(s);
  t.equal(bad, 0, `${n} strings, ${bad} differ`);
  t.equal(parseFloat32('1.67772170000000000000001e7'), 16777218);
  t.equal(parseFloat32('1.6777217e7'), 16777216, 'a true tie goes to even');
  t.equal(parseFloat32('3.40282356779733661637539395458142568448e38'), Infinity);
  t.equal(parseFloat32('3.40282356779733661637539395458142568447e38'), 3.4028234663852886e38);
});

t.test('float32FixedFive: exact value, five places, ties to even', async (t) => {
  const rnd = prng(5);
  let bad = 0;
  let n = 0;
  const check = (f: number) => {
    n++;
    if (float32FixedFive(f) !== refFixedFive(f) && bad++ < 20) t.fail(`${f}: ${float32FixedFive(f)} vs ${refFixedFive(f)}`);
  };
  for (let i = 0; i < 20000; i++) {
    const f = floatFromBits((rnd() * 4294967296) >>> 0);
    if (Number.isFinite(f)) check(f);
  }
  for (let i = 0; i < 4096; i++) check(Math.fround(i / 2 ** 17)); // many exact ties at the 6th place
  t.equal(bad, 0, `${n} floats, ${bad} differ`);
  t.equal(float32FixedFive(Math.fround(0.015625)), '0.01562');
  t.equal(float32FixedFive(Math.fround(0.046875)), '0.04688');
  t.equal(float32FixedFive(Math.fround(1e22)), '9999999778196308361216.00000');
  t.equal(float32FixedFive(Math.fround(5e-3)), '0.00500');
  t.equal(float32FixedFive(Math.fround(1.4e-45)), '0.00000');
  t.equal(float32FixedFive(0), '0.00000');
  t.equal(float32FixedFive(-2.5), '-2.50000');
});

t.test('scientificString: which strings are rewritten', async (t) => {
  t.equal(scientificString('5.0e-3'), '0.00500');
  t.equal(scientificString('1.5625e-2'), '0.01562');
  t.equal(scientificString('1.0e22'), '9999999778196308361216.00000');
  for (const s of ['1e-3', '1.0e39', '-1.0e39', '1.5', '', 'e5', '.e5', '1.0e', '1.0e+-3', '1,5e3', 'NaN', 'Infinity', '1.0e3 ', ' 1.0e3', '٣.٠e3']) {
    t.equal(scientificString(s), undefined, JSON.stringify(s));
  }
});

t.test('locationString and vStringJson', async (t) => {
  t.equal(locationString('(37.412374 N, 122.145867 W)'), '{"latitude":37.412374,"longitude":-122.145867}');
  t.equal(locationString('(37.412374 S, 122.145867 E)'), '{"latitude":-37.412374,"longitude":122.145867}');
  t.equal(locationString('( 1 N ,2 E )'), '{"latitude":1,"longitude":2}', 'spacing is lenient');
  t.equal(locationString('(-37.4 N, 122.1 W)'), undefined, 'a sign and a hemisphere together');
  t.equal(locationString('(37.4, 122.1)'), undefined);
  t.equal(locationString('(37.4 n, 122.1 w)'), undefined);
  t.equal(vStringJson(21, '(1 N, 2 W)'), '{"latitude":1,"longitude":-2}');
  t.equal(vStringJson(21, 'nowhere'), '"nowhere"');
  t.equal(vStringJson(21, '2.5e1'), '"25.00000"', 'a non-location string on Location still gets §4 numbers');
  t.equal(vStringJson(64, '(1 N, 2 W)'), '"(1 N, 2 W)"');
  t.equal(vStringJson(64, 'a "b"'), '"a \\"b\\""');
});
