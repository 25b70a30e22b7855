/**
 * The vehicles, in a worker thread apart from the orchestrating thread: K mTLS WebSocket
 * clients, each pipelining frames with up to W unanswered, or sending at a fixed rate.
 * Commands come from bench/e2e.ts (connect, start, mark, stop, close).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { FrameTemplate, readResponse, RESPONSE_ACK, RESPONSE_ERROR } from './frames.js';
import { Latencies } from './stats.js';

export interface DriverVehicle {
  vin: string;
  index: number;
  certPem: string;
  keyPem: string;
}

export interface DriverData {
  port: number;
  caPem: string;
  vehicles: DriverVehicle[];
  fields: number;
  window: number;
  /** A frame without a response after this long is counted unanswered and its slot freed. */
  unansweredMs: number;
}

export type DriverCommand =
  | { cmd: 'connect' }
  | { cmd: 'start'; mode: 'saturate' }
  | { cmd: 'start'; mode: 'rate'; rate: number }
  | { cmd: 'mark' }
  | { cmd: 'stop'; drainMs: number }
  | { cmd: 'close' };

const data = workerData as DriverData;
const W = data.window;
// Ring of send times by sequence number; far larger than the window so a slot is only reused
// by a frame that is long answered or already given up on.
const RING = 1 << Math.max(12, Math.ceil(Math.log2(W * 16)));
const MASK = RING - 1;

const lat = new Latencies();
const c = { done: 0, errors: 0, unanswered: 0, late: 0, windowFull: 0, sent: 0 };
let mode: 'idle' | 'saturate' | 'rate' = 'idle';
const resp = { kind: 0, seq: -1 };
// The driver's own event-loop delay: if it is large, the latencies measured here include it.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();

class Vehicle {
  ws!: WebSocket;
  readonly tpl: FrameTemplate;
  next = 0;
  low = 0;
  outstanding = 0;
  /** Fixed-rate mode: frames due so far, and this vehicle's offset within one period. */
  scheduled = 0;
  phase = 0;
  readonly sentAt = new Float64Array(RING);
  readonly live = new Uint8Array(RING);

  constructor(readonly v: DriverVehicle) {
    this.tpl = new FrameTemplate(v.vin, v.index, data.fields);
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${data.port}/`, {
        cert: this.v.certPem,
        key: this.v.keyPem,
        ca: data.caPem,
        perMessageDeflate: false,
        headers: { version: 'bench', 'x-network-interface': 'wifi' },
      });
      this.ws = ws;
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('message', (buf: Buffer) => this.onResponse(buf));
      ws.on('close', (code) => {
        if (mode !== 'idle') post({ type: 'log', message: `${this.v.vin}: connection closed (${code}) while sending` });
      });
    });
  }

  send(): void {
    const seq = this.next++;
    const slot = seq & MASK;
    if (this.live[slot]) {
      // Its slot comes round again with no response yet: count it as never answered.
      this.live[slot] = 0;
      this.outstanding--;
      c.unanswered++;
    }
    this.live[slot] = 1;
    this.outstanding++;
    c.sent++;
    this.sentAt[slot] = performance.now();
    this.ws.send(this.tpl.frame(seq), { binary: true });
  }

  onResponse(buf: Buffer): void {
    const now = performance.now();
    readResponse(buf, resp);
    const seq = resp.seq;
    const slot = seq & MASK;
    if (seq >= 0 && seq < this.next && seq >= this.next - RING && this.live[slot]) {
      this.live[slot] = 0;
      this.outstanding--;
      if (resp.kind === RESPONSE_ACK) {
        c.done++;
        lat.push(now - this.sentAt[slot]);
      } else c.errors++;
    } else if (resp.kind === RESPONSE_ERROR) c.errors++;
    else c.late++;
    if (mode === 'saturate') while (this.outstanding < W) this.send();
  }

  /** Frames past the deadline are counted unanswered and free their window slot. */
  sweep(now: number): void {
    for (let s = this.low; s < this.next; s++) {
      const slot = s & MASK;
      if (this.live[slot] && now - this.sentAt[slot] > data.unansweredMs) {
        this.live[slot] = 0;
        this.outstanding--;
        c.unanswered++;
      }
    }
    while (this.low < this.next && !this.live[this.low & MASK]) this.low++;
    if (this.low < this.next - RING) this.low = this.next - RING;
  }
}

const vehicles = data.vehicles.map((v) => new Vehicle(v));
const post = (m: unknown) => parentPort!.postMessage(m);

const sweeper = setInterval(() => {
  const now = performance.now();
  for (const v of vehicles) v.sweep(now);
  if (mode === 'saturate') for (const v of vehicles) while (v.outstanding < W) v.send();
}, 200);

let rateTimer: NodeJS.Timeout | undefined;
function startRate(rate: number): void {
  const perVehicle = rate / vehicles.length;
  const t0 = performance.now();
  vehicles.forEach((v, i) => {
    v.scheduled = 0;
    v.phase = i / vehicles.length; // stagger the vehicles across one period
  });
  // A 1 ms timer (not a busy loop: the server shares this machine's cores).
  rateTimer = setInterval(() => {
    const elapsed = (performance.now() - t0) / 1000;
    for (const v of vehicles) {
      const due = Math.floor(elapsed * perVehicle + v.phase);
      while (v.scheduled < due) {
        if (v.outstanding >= W) {
          c.windowFull++;
          break;
        }
        v.send();
        v.scheduled++;
      }
    }
  }, 1);
}

function mark(type: string, extra: Record<string, unknown> = {}): void {
  const latencies = lat.take();
  const loop = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  loopDelay.reset();
  post({ type, ...c, latencies, loop, ...extra });
  c.done = c.errors = c.unanswered = c.late = c.windowFull = c.sent = 0;
}

async function connectAll(): Promise<void> {
  const failures: string[] = [];
  await Promise.all(vehicles.map((v) => v.connect().catch((err: Error) => failures.push(`${v.v.vin}: ${err.message}`))));
  if (failures.length) throw new Error(`vehicles could not connect: ${failures.slice(0, 3).join('; ')}`);
  // Until the server's broker link is up a frame gets no answer: probe until each vehicle is acked.
  const end = Date.now() + 20_000;
  for (const v of vehicles) {
    let acked = c.done;
    while (c.done === acked) {
      if (Date.now() > end) throw new Error('the server acked no probe frame within 20 s (is it connected to the broker?)');
      acked = c.done;
      v.send();
      const t = Date.now();
      while (c.done === acked && Date.now() - t < 1000) await new Promise((r) => setTimeout(r, 10));
    }
  }
  mark('discard');
}

parentPort!.on('message', (m: DriverCommand) => {
  void (async () => {
    switch (m.cmd) {
      case 'connect':
        await connectAll();
        post({ type: 'connected' });
        return;
      case 'start':
        mark('discard');
        mode = m.mode;
        if (m.mode === 'saturate') for (const v of vehicles) while (v.outstanding < W) v.send();
        else startRate(m.rate);
        post({ type: 'started' });
        return;
      case 'mark':
        mark('mark');
        return;
      case 'stop': {
        mode = 'idle';
        clearInterval(rateTimer);
        const end = performance.now() + m.drainMs;
        const left = () => vehicles.reduce((n, v) => n + v.outstanding, 0);
        while (left() > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
        const still = left();
        // What is still open after the drain was never answered.
        for (const v of vehicles) {
          v.live.fill(0);
          v.outstanding = 0;
          v.low = v.next;
        }
        c.unanswered += still;
        mark('stopped', { stillOutstanding: still });
        return;
      }
      case 'close':
        clearInterval(sweeper);
        for (const v of vehicles) v.ws.close(1000);
        await new Promise((r) => setTimeout(r, 200));
        for (const v of vehicles) v.ws.terminate();
        post({ type: 'closed' });
        return;
    }
  })().catch((err: Error) => post({ type: 'fatal', message: err.stack ?? err.message }));
});
