import type { Presence } from '../../publish/presence.js';
import { isPermanent } from '../../producers/types.js';

interface VinSend {
  sending: boolean;
  next?: Presence;
  /** Told when `next` (or a later state) has had its first attempt. */
  waiters?: (() => void)[];
  waitMs: number;
  timer?: NodeJS.Timeout;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

/**
 * Sends each VIN's presence one at a time, the latest first: a change made while one is being
 * published replaces any not yet sent, so the broker's retained message ends at the last state,
 * never an older one that overtook it. A failure is tried again (1 s doubling to 30 s, ±20%)
 * with whatever is latest by then: a car that connected during a broker outage must not stay
 * offline once the broker is back.
 */
export class PresenceOutbox {
  private readonly vins = new Map<string, VinSend>();
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly send: (vin: string, p: Presence) => Promise<void>,
    private readonly onFailed?: (vin: string, err: unknown) => void,
  ) {}

  /** Resolves once this state (or a later one) was published, or its first attempt failed. */
  set(vin: string, p: Presence): Promise<void> {
    if (this.stopped) return Promise.resolve();
    let st = this.vins.get(vin);
    if (!st) this.vins.set(vin, (st = { sending: false, waitMs: FIRST_RETRY_MS }));
    st.next = p;
    const told = new Promise<void>((resolve) => (st.waiters ??= []).push(resolve));
    if (!st.sending && !st.timer) this.run(vin, st);
    return told;
  }

  /** VINs with a presence not yet taken. */
  get pending(): number {
    return this.vins.size;
  }

  private run(vin: string, st: VinSend): void {
    const p = st.next!;
    st.next = undefined;
    st.sending = true;
    const waiters = st.waiters;
    st.waiters = undefined;
    const tell = () => waiters?.forEach((w) => w());
    this.send(vin, p).then(
      () => {
        tell();
        st.sending = false;
        st.waitMs = FIRST_RETRY_MS;
        if (st.next && !this.stopped) return this.run(vin, st);
        this.done(vin);
      },
      (err: unknown) => {
        tell();
        st.sending = false;
        this.onFailed?.(vin, err);
        if (this.stopped || (isPermanent(err) && !st.next)) return this.done(vin);
        st.next ??= p;
        const wait = Math.round(st.waitMs * (0.8 + Math.random() * 0.4));
        st.waitMs = Math.min(st.waitMs * 2, MAX_RETRY_MS);
        st.timer = setTimeout(() => {
          st.timer = undefined;
          if (!this.stopped && st.next) this.run(vin, st);
        }, wait);
        st.timer.unref();
      },
    );
  }

  private done(vin: string): void {
    this.vins.delete(vin);
    if (this.vins.size === 0 && this.idle.length) {
      const waiters = this.idle;
      this.idle = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once every presence was taken, or after `ms` (shutdown). */
  flush(ms: number): Promise<void> {
    if (this.vins.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    for (const st of this.vins.values()) {
      clearTimeout(st.timer);
      st.waiters?.forEach((w) => w());
    }
    this.vins.clear();
  }
}
