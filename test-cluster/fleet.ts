import WebSocket from 'ws';
import type { TestPki } from '../test/helpers/pki.js';
import { connectVehicle, vFrame, type VehicleClient } from '../test/helpers/vehicle.js';
import { sleep } from '../test/helpers/ports.js';

// Emulated vehicles for the failover runs: each sends a V frame every periodMs through the load
// balancer, resends what is unacked after resendMs (same txid) and reconnects when its connection ends.

export const FIELDS = ['VehicleSpeed', 'Odometer', 'BatteryLevel', 'OutsideTemp'] as const;
/** Fields of a frame when a run asks for more than FIELDS. */
export const MORE_FIELDS = [...FIELDS, 'InsideTemp', 'EstBatteryRange', 'PackVoltage', 'PackCurrent'] as const;

export interface SentFrame {
  txid: string;
  bytes: Uint8Array;
  /** Topic → value of every field the frame carries. */
  fields: Map<string, number>;
  firstSent: number;
  lastSent: number;
  ackedAt?: number;
}

export class Car {
  readonly frames = new Map<string, SentFrame>();
  readonly ackTimes: number[] = [];
  errors: string[] = [];
  connections = 0;
  resends = 0;
  private client?: VehicleClient;
  private seen = 0;
  private seq = 0;
  private stopped = false;

  constructor(
    readonly vin: string,
    readonly index: number,
    private readonly lbPort: number,
    private readonly pki: TestPki,
    private readonly topicBase: string,
    private readonly opts: { periodMs: number; resendMs: number; fields?: number },
  ) {}

  private get open(): boolean {
    return this.client?.ws.readyState === WebSocket.OPEN;
  }

  /** When new frames stop; the failover run moves it when a fault comes later than planned. */
  produceUntil = 0;

  /** Runs until `produceUntil` (new frames), then only resends until everything is acked or stop(). */
  async run(produceUntil: number): Promise<void> {
    this.produceUntil = produceUntil;
    const cert = await this.pki.vehicle(this.vin);
    let nextFrame = Date.now();
    while (!this.stopped) {
      if (!this.open) {
        try {
          this.client = await connectVehicle(this.lbPort, cert, this.pki.ca.certPem);
          this.connections++;
          this.seen = 0;
          // A new connection: everything unacked goes again at once.
          for (const f of this.frames.values()) if (f.ackedAt === undefined) this.send(f, true);
        } catch {
          await sleep(200);
          continue;
        }
      }
      this.collect();
      const now = Date.now();
      if (now < this.produceUntil && now >= nextFrame) {
        this.send(this.newFrame(), false);
        nextFrame += this.opts.periodMs;
      }
      for (const f of this.frames.values()) if (f.ackedAt === undefined && now - f.lastSent >= this.opts.resendMs) this.send(f, true);
      if (now >= this.produceUntil && this.unacked() === 0) return;
      await sleep(50);
    }
  }

  stop(): void {
    this.stopped = true;
    this.client?.ws.terminate();
  }

  unacked(): number {
    let n = 0;
    for (const f of this.frames.values()) if (f.ackedAt === undefined) n++;
    return n;
  }

  /** The first ack at or after `t`, if any. */
  firstAckAfter(t: number): number | undefined {
    return this.ackTimes.find((a) => a >= t);
  }

  private newFrame(): SentFrame {
    const n = ++this.seq;
    const txid = `${this.vin}-${n}`;
    // Values unique per frame, so the subscriber's copy proves which frame it came from.
    const names = MORE_FIELDS.slice(0, this.opts.fields ?? FIELDS.length);
    const values = names.map((_, k) => this.index * 100_000 + n * 10 + k);
    const bytes = vFrame(
      txid,
      this.vin,
      names.map((key, k) => ({ key, value: { float_value: values[k] } })),
    );
    const fields = new Map(names.map((key, k) => [`${this.topicBase}/${this.vin}/v/${key}`, values[k]]));
    const f: SentFrame = { txid, bytes, fields, firstSent: Date.now(), lastSent: 0 };
    this.frames.set(txid, f);
    return f;
  }

  private send(f: SentFrame, resend: boolean): void {
    if (!this.open) return;
    this.client!.send(f.bytes);
    f.lastSent = Date.now();
    if (resend) this.resends++;
  }

  private collect(): void {
    const rs = this.client!.responses;
    for (; this.seen < rs.length; this.seen++) {
      const r = rs[this.seen];
      if (r.kind === 'error') {
        this.errors.push(`${r.txid}: ${r.reason}`);
        continue;
      }
      const f = this.frames.get(r.txid);
      if (f && f.ackedAt === undefined) {
        f.ackedAt = Date.now();
        this.ackTimes.push(f.ackedAt);
      }
    }
  }
}
