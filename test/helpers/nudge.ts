import type { Test } from 'tap';
import { pino } from 'pino';
import { Batch, MqttLink } from '../../src/producers/mqtt/link.js';
import type { ConnectOptions } from '../../src/producers/mqtt/packets.js';
import { parseBrokerUrl, type BrokerTls } from '../../src/producers/mqtt/transport.js';
import type { Publish } from '../../src/publish/plan.js';

// A lone vehicle's records, one 20-publish record in flight at a time. A stalled record waits for
// the broker's Nagle round and our delayed ACK (≥ 40 ms on Linux), so a stall allows at most
// WINDOW_MS / 40 records; the link must ack several times that.

export const WINDOW_MS = 2000;
export const STALL_BOUND = WINDOW_MS / 40;
export const MARGIN = 4;

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

/** One 20-publish record after another for WINDOW_MS: how many were acked, and the first error. */
export async function sparse(link: MqttLink, qos: 1 | 2, tag: string): Promise<{ acked: number; error?: Error }> {
  const end = Date.now() + WINDOW_MS;
  let acked = 0;
  while (Date.now() < end) {
    const pubs: Publish[] = Array.from({ length: 20 }, (_, k) => ({ topic: `nudge/${tag}/${qos}/${k}`, payload: String(acked), qos, retain: false }));
    const error = await new Promise<Error | undefined>((resolve) => link.send(new Batch(pubs, resolve, Date.now() + 5000)));
    if (error) return { acked, error };
    acked++;
  }
  return { acked };
}

export function assertNoStall(t: Test, r: { acked: number; error?: Error }, what: string) {
  t.equal(r.error, undefined, `${what}: no record failed`);
  t.ok(r.acked >= STALL_BOUND * MARGIN, `${what}: ${r.acked} records acked in ${WINDOW_MS} ms (a stall allows at most ${STALL_BOUND})`);
}
