import type { Test } from 'tap';
import { pino } from 'pino';
import { Batch, MqttLink } from '../../src/producers/mqtt/link.js';
import type { ConnectOptions } from '../../src/producers/mqtt/packets.js';
import { parseBrokerUrl, type BrokerTls } from '../../src/producers/mqtt/transport.js';
import type { Publish } from '../../src/publish/plan.js';

// A lone vehicle's records, one 20-publish record in flight at a time. A stalled record waits for
// the broker's Nagle round and our delayed ACK (≥ 40 ms on Linux), so a stall allows at most
// WINDOW_MS / 40 records. The check is per record: a stall makes a record take 40 ms or more,
// a busy CPU only a few. A count in the window (once 4 times the bound) measured the CPU too and
// failed beside a CPU hog, with 7% of the records or fewer at 40 ms.

export const WINDOW_MS = 2000;
export const STALL_MS = 40;
export const STALL_BOUND = WINDOW_MS / STALL_MS;
/** At most this share of the records may take a delayed-ACK round: with the stall, all do. */
export const SLOW_SHARE = 0.2;

export function makeLink(t: Test, url: string, tls: BrokerTls = {}, login: Pick<ConnectOptions, 'username' | 'password'> = {}) {
  const clientId = `nudge-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const link = new MqttLink({
    endpoint: parseBrokerUrl(url, tls),
    // A minute of keep-alive: no PINGREQ of its own during the test.
    connect: { clientId, keepAliveSeconds: 60, cleanSession: true, ...login },
    connectTimeoutMs: 5000,
    retryMaxMs: 1000,
    publishTimeoutMs: 5000,
    qos2Window: 20,
    logger: pino({ level: 'silent' }),
  });
  link.start();
  t.teardown(() => link.close(100));
  return { link, clientId };
}

export interface SparseRun {
  acked: number;
  /** Records acked in STALL_MS or more. */
  slow: number;
  error?: Error;
}

/** One 20-publish record after another for WINDOW_MS: how many were acked (and how many slowly), and the first error. */
export async function sparse(link: MqttLink, qos: 1 | 2, tag: string): Promise<SparseRun> {
  const end = Date.now() + WINDOW_MS;
  let acked = 0;
  let slow = 0;
  while (Date.now() < end) {
    const pubs: Publish[] = Array.from({ length: 20 }, (_, k) => ({ topic: `nudge/${tag}/${qos}/${k}`, payload: String(acked), qos, retain: false }));
    const at = performance.now();
    const error = await new Promise<Error | undefined>((resolve) => link.send(new Batch(pubs, resolve, Date.now() + 5000)));
    if (error) return { acked, slow, error };
    acked++;
    if (performance.now() - at >= STALL_MS) slow++;
  }
  return { acked, slow };
}

/** No record failed, more were acked than a stall allows, and few took a delayed-ACK round. */
export function assertNoStall(t: Test, r: SparseRun | SparseRun[], what: string) {
  const runs = Array.isArray(r) ? r : [r];
  const acked = runs.reduce((n, x) => n + x.acked, 0);
  const slow = runs.reduce((n, x) => n + x.slow, 0);
  const bound = STALL_BOUND * runs.length;
  t.same(runs.map((x) => x.error), runs.map(() => undefined), `${what}: no record failed`);
  t.ok(
    acked > bound && slow <= acked * SLOW_SHARE,
    `${what}: ${acked} records acked in ${WINDOW_MS} ms, ${slow} of them in ${STALL_MS} ms or more (a stall makes every one that slow, at most ${bound} in all)`,
  );
}
