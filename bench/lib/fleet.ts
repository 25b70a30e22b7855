import { createHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { DriverData, DriverVehicle } from './driver.js';
import type { Load } from './measure.js';
import { request, type MarkReply } from './rpc.js';

export interface FleetOptions {
  /** The server's vehicle port and the CA its certificate chains to. */
  port: number;
  caPem: string;
  fields: number;
  /** Unacked frames per vehicle. */
  window: number;
  /** A frame with no response after this long counts as unanswered. */
  unansweredMs: number;
  /** How long stop() waits for outstanding frames. */
  drainMs: number;
  log: (line: string) => void;
}

/** The vehicles, spread over worker threads (bench/lib/driver.ts); marks merge their counts. */
export class Fleet implements Load {
  readonly workers: Worker[] = [];
  private readonly sizes = new Map<Worker, number>();
  private readonly total: number;

  constructor(
    private readonly o: FleetOptions,
    vehicles: DriverVehicle[],
    threads: number,
  ) {
    this.total = vehicles.length;
    const url = new URL('./driver.js', import.meta.url);
    for (let t = 0; t < threads; t++) {
      const mine = vehicles.filter((_, i) => i % threads === t);
      if (!mine.length) continue;
      const data: DriverData = { port: o.port, caPem: o.caPem, vehicles: mine, fields: o.fields, window: o.window, unansweredMs: o.unansweredMs };
      const w = new Worker(url, { workerData: data });
      w.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'log') o.log(`  driver: ${m.message}`);
      });
      w.on('error', (err) => {
        o.log(`driver thread failed: ${err.stack ?? err}`);
        process.exit(1);
      });
      this.workers.push(w);
      this.sizes.set(w, mine.length);
    }
  }

  private all<T extends MarkReply>(msg: (w: Worker) => unknown, reply: string, timeout: number): Promise<T[]> {
    return Promise.all(this.workers.map((w) => request<T>(w, (m) => w.postMessage(m), msg(w), reply, timeout)));
  }

  async connect(): Promise<void> {
    await this.all(() => ({ cmd: 'connect' }), 'connected', 60_000);
  }

  async start(rate?: number): Promise<void> {
    // Each thread gets the share of the total rate its vehicles make.
    const msg = (w: Worker) =>
      rate === undefined ? { cmd: 'start', mode: 'saturate' } : { cmd: 'start', mode: 'rate', rate: (rate * this.sizes.get(w)!) / this.total };
    await this.all(msg, 'started', 10_000);
  }

  async mark(): Promise<MarkReply> {
    return merge(await this.all(() => ({ cmd: 'mark' }), 'mark', 10_000));
  }

  async stop(): Promise<MarkReply & { stillOutstanding: number }> {
    const rs = await this.all<MarkReply & { stillOutstanding: number }>(() => ({ cmd: 'stop', drainMs: this.o.drainMs }), 'stopped', this.o.drainMs + 10_000);
    return { ...merge(rs), stillOutstanding: rs.reduce((n, r) => n + r.stillOutstanding, 0) };
  }

  async close(): Promise<void> {
    await this.all(() => ({ cmd: 'close' }), 'closed', 10_000).catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function merge(rs: MarkReply[]): MarkReply {
  const all = createHistogram();
  for (const r of rs) if (r.latencies) all.add(r.latencies);
  const sum = (k: 'done' | 'errors' | 'unanswered' | 'late' | 'windowFull' | 'sent') => rs.reduce((n, r) => n + r[k], 0);
  const loops = rs.map((r) => r.loop).filter((l): l is { p99: number; max: number } => !!l);
  const loop = loops.length ? { p99: Math.max(...loops.map((l) => l.p99)), max: Math.max(...loops.map((l) => l.max)) } : undefined;
  return {
    type: 'mark',
    loop,
    done: sum('done'),
    errors: sum('errors'),
    unanswered: sum('unanswered'),
    late: sum('late'),
    windowFull: sum('windowFull'),
    sent: sum('sent'),
    latencies: all,
  };
}
