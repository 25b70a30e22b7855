/** Latency samples in a growable typed array: no per-sample objects, bounded in size. */
export class Samples {
  private a = new Float64Array(1 << 16);
  private n = 0;
  /** Samples past the cap are dropped (and counted), so a long run cannot exhaust memory. */
  dropped = 0;
  constructor(private readonly cap = 1 << 23) {}

  push(v: number): void {
    if (this.n === this.a.length) {
      if (this.n >= this.cap) {
        this.dropped++;
        return;
      }
      const b = new Float64Array(Math.min(this.cap, this.a.length * 2));
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }

  /** The samples so far (a copy), and start over. */
  take(): Float64Array {
    const out = this.a.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of latencies in ms (NaN when there are none). */
export function percentiles(samples: Float64Array): Percentiles {
  const s = samples.slice().sort();
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : NaN);
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : NaN };
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
