import { createHistogram, type Histogram, type RecordableHistogram } from 'node:perf_hooks';

/**
 * Latencies in ms, kept by perf_hooks' HDR histogram in whole microseconds (it records integers
 * ≥ 1, 3 significant figures): memory stays bounded however long the run, and a histogram
 * crosses to another thread by postMessage.
 */
export class Latencies {
  private h = createHistogram();

  push(ms: number): void {
    this.h.record(Math.max(1, Math.round(ms * 1000)));
  }

  /** The latencies so far, and start over. */
  take(): RecordableHistogram {
    const out = this.h;
    this.h = createHistogram();
    return out;
  }
}

/** Latencies (ms) gathered elsewhere, in one histogram. */
export function latencyHistogram(ms: Iterable<number>): RecordableHistogram {
  const l = new Latencies();
  for (const x of ms) l.push(x);
  return l.take();
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Percentiles of a latency histogram, back in ms (NaN when there are none). */
export function percentiles(h: Histogram): Percentiles {
  if (h.count === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  return { count: h.count, p50: h.percentile(50) / 1000, p99: h.percentile(99) / 1000, max: h.max / 1000 };
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
