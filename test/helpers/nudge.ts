import type { Test } from 'tap';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { pino } from 'pino';
import { Batch, MqttLink } from '../../src/producers/mqtt/link.js';
import type { ConnectOptions } from '../../src/producers/mqtt/packets.js';
import { parseBrokerUrl, type BrokerTls } from '../../src/producers/mqtt/transport.js';
import type { Publish } from '../../src/publish/plan.js';

// A lone vehicle's records, one 20-publish record in flight at a time. A stalled record waits for
// the broker's Nagle round and our delayed ACK (≥ 40 ms on Linux) with this process idle, so the
// check is per record: a stall makes every record take 40 ms or more while the event loop waits on
// the network. A starved CPU can make a record as slow, but then the event loop runs late too: such
// records are told apart by the loop's lateness during them, and not counted as stalls. (Counting
// records in the window, and then any record at 40 ms or more, measured the CPU too: both failed
// beside a CPU hog and helper builds, with up to 27 % of the records at 40 ms.)

export const WINDOW_MS = 2000;
export const STALL_MS = 40;
/** At most this share of the records may take a delayed-ACK round: with the stall, all do. */
export const SLOW_SHARE = 0.2;
/** Fewer records than this in the window say nothing either way: the machine did not run the test. */
export const MIN_RECORDS = 10;
/** Loop lateness (ms) during a record beyond which its time is the CPU's, not the network's. */
export const STARVED_MS = 10;
const TICK_MS = 2;

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
  /** Records acked in STALL_MS or more while the event loop ran on time: delayed-ACK rounds. */
  slow: number;
  /** Records as slow while the event loop ran late: the CPU's doing, not counted as stalls. */
  starved: number;
  error?: Error;
}

/** How late the event loop ran: a timer every TICK_MS, the worst lateness since `reset`. */
function lagProbe() {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - TICK_MS);
    last = now;
  }, TICK_MS);
  return {
    reset: () => void (worst = 0),
    worst: () => Math.max(worst, performance.now() - last - TICK_MS),
    stop: () => clearInterval(timer),
  };
}

/** One 20-publish record after another for WINDOW_MS: how many were acked (and how many slowly), and the first error. */
export async function sparse(link: MqttLink, qos: 1 | 2, tag: string): Promise<SparseRun> {
  const end = Date.now() + WINDOW_MS;
  const run: SparseRun = { acked: 0, slow: 0, starved: 0 };
  const lag = lagProbe();
  try {
    while (Date.now() < end) {
      const pubs: Publish[] = Array.from({ length: 20 }, (_, k) => ({ topic: `nudge/${tag}/${qos}/${k}`, payload: String(run.acked), qos, retain: false }));
      const at = performance.now();
      lag.reset();
      const error = await new Promise<Error | undefined>((resolve) => link.send(new Batch(pubs, resolve, Date.now() + 5000)));
      if (error) return { ...run, error };
      run.acked++;
      if (performance.now() - at < STALL_MS) continue;
      if (lag.worst() >= STARVED_MS) run.starved++;
      else run.slow++;
    }
    return run;
  } finally {
    lag.stop();
  }
}

/** No record failed, and few took a delayed-ACK round with the CPU free. */
export function assertNoStall(t: Test, r: SparseRun | SparseRun[], what: string) {
  const runs = Array.isArray(r) ? r : [r];
  const sum = (k: 'acked' | 'slow' | 'starved') => runs.reduce((n, x) => n + x[k], 0);
  const [acked, slow, starved] = [sum('acked'), sum('slow'), sum('starved')];
  t.same(
    runs.map((x) => x.error),
    runs.map(() => undefined),
    `${what}: no record failed`,
  );
  t.ok(
    acked >= MIN_RECORDS * runs.length && slow <= acked * SLOW_SHARE,
    `${what}: ${acked} records acked in ${WINDOW_MS} ms, ${slow} of them in ${STALL_MS} ms or more with the event loop on time (a stall makes every one that slow), ${starved} more that slow with the loop ${STARVED_MS} ms late or more`,
  );
}

/**
 * A broker played by the test, one step at a time: it answers CONNECT by itself and otherwise
 * writes only what the test tells it to, so the reads the link sees are the test's to choose
 * (each write a segment of its own: Nagle off here; over TLS each write a record). Since a
 * stalled broker is one whose next segment waits for our ACK, what matters is whether the link
 * writes anything after a read: `wrote()` waits for its next bytes.
 */
export class ScriptedBroker {
  /** PUBLISH packet ids and PINGREQs received, in order. */
  readonly publishes: number[] = [];
  pingreqs = 0;
  private socket?: Socket;
  private buf = Buffer.alloc(0);
  private bytesIn = 0;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: NetServer,
    readonly url: string,
  ) {}

  static async start(tls?: { certPem: string; keyPem: string }): Promise<ScriptedBroker> {
    let broker!: ScriptedBroker;
    const onSocket = (s: Socket) => broker.attach(s);
    const server = tls ? createTlsServer({ cert: tls.certPem, key: tls.keyPem }, onSocket) : createNetServer(onSocket);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    broker = new ScriptedBroker(server, `${tls ? 'mqtts' : 'mqtt'}://${tls ? 'localhost' : '127.0.0.1'}:${port}`);
    return broker;
  }

  private attach(s: Socket): void {
    this.socket = s;
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
      for (const w of this.waiters.splice(0)) w();
    });
    s.on('error', () => undefined);
  }

  private parse(): void {
    for (;;) {
      let len = 0;
      let i = 1;
      for (let mul = 1; ; mul *= 128, i++) {
        if (i >= this.buf.length) return;
        len += (this.buf[i] & 127) * mul;
        if (!(this.buf[i] & 128)) break;
      }
      const start = i + 1;
      if (this.buf.length < start + len) return;
      const type = this.buf[0] >> 4;
      const body = this.buf.subarray(start, start + len);
      this.buf = this.buf.subarray(start + len);
      if (type === 1) this.socket!.write(Buffer.from([0x20, 2, 0, 0]));
      else if (type === 3) {
        const at = 2 + body.readUInt16BE(0);
        this.publishes.push(body.readUInt16BE(at));
      } else if (type === 12) this.pingreqs++;
    }
  }

  /** Resolves once `n` publishes have arrived in all. */
  async publishesReach(n: number): Promise<void> {
    while (this.publishes.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Writes one segment; `wrote` then tells whether the link wrote anything after it. */
  send(...packets: Buffer[]): { wrote: (ms: number) => Promise<boolean> } {
    const before = this.bytesIn;
    this.socket!.write(Buffer.concat(packets));
    return {
      wrote: async (ms) => {
        const end = Date.now() + ms;
        while (this.bytesIn === before) {
          const left = end - Date.now();
          if (left <= 0) return false;
          await new Promise<void>((r) => {
            const t = setTimeout(r, left);
            this.waiters.push(() => (clearTimeout(t), r()));
          });
        }
        return true;
      },
    };
  }

  close(): Promise<void> {
    this.socket?.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export const puback = (id: number) => Buffer.from([0x40, 2, id >> 8, id & 255]);
export const PINGRESP = Buffer.from([0xd0, 0]);
