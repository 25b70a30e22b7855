import { validateMetricName } from 'prom-client';

/**
 * A histogram observed with two array writes. prom-client's observe() builds a label key string
 * on every call, which the per-record path must not pay; this one is read only at scrape time.
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;
  private readonly width: number;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly labelValues: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    if (!validateMetricName(name)) throw new Error(`invalid metric name ${name}`);
    this.width = bounds.length + 1;
    this.counts = new Float64Array(labelValues.length * this.width);
    this.sums = new Float64Array(labelValues.length);
  }

  observe(label: number, v: number): void {
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && v > bounds[b]) b++;
    this.counts[label * this.width + b]++;
    this.sums[label] += v;
  }

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (let l = 0; l < this.labelValues.length; l++) {
      const label = this.labelValues[l];
      let acc = 0;
      const row: typeof values = [];
      for (let b = 0; b < this.width; b++) {
        acc += this.counts[l * this.width + b];
        row.push({ labels: { [this.labelName]: label, le: b < this.bounds.length ? this.bounds[b] : '+Inf' }, value: acc, metricName: `${this.name}_bucket` });
      }
      if (acc === 0) continue; // a record type that never happened
      values.push(...row);
      values.push({ labels: { [this.labelName]: label }, value: this.sums[l], metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: acc, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sums.fill(0);
  }
}
