import { createServer, connect, type Server, type Socket } from 'node:net';

// A broker that is slow the way a loaded or distant one is: a TCP proxy in front of a real
// mosquitto that delays every packet from the broker by `latencyMs` (acknowledgements by
// `ackDelayMs` more) and lets PUBACKs, PUBRECs and PUBCOMPs through at most `acksPerSecond`, in
// order (what follows a held acknowledgement waits behind it, as on one TCP stream). What goes
// to the broker passes untouched.

export interface SlowBroker {
  port: number;
  url: string;
  /** Acknowledgements let through so far. */
  acks(): number;
  stop(): Promise<void>;
}

const ACK_TYPES = new Set([4, 5, 7]); // PUBACK, PUBREC, PUBCOMP

/** Splits a byte stream into whole MQTT packets (fixed header + remaining length). */
class Packets {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      let len = 0;
      let mul = 1;
      let i = 1;
      for (; i < this.buf.length && i <= 4; i++) {
        len += (this.buf[i] & 0x7f) * mul;
        mul *= 128;
        if ((this.buf[i] & 0x80) === 0) break;
      }
      if (i >= this.buf.length || i > 4) return out; // header incomplete
      const total = i + 1 + len;
      if (this.buf.length < total) return out;
      out.push(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
    }
  }
}

export async function startSlowBroker(brokerPort: number, opts: { acksPerSecond: number; latencyMs: number; ackDelayMs?: number }): Promise<SlowBroker> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let acks = 0;
  const server: Server = createServer((client) => {
    const broker = connect({ host: '127.0.0.1', port: brokerPort });
    for (const s of [client, broker]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('close', () => broker.destroy());
    broker.on('close', () => client.destroy());
    client.pipe(broker);
    // Broker → client: each packet released no earlier than latencyMs after it came, each
    // acknowledgement no earlier than 1/acksPerSecond after the previous one, in order.
    const packets = new Packets();
    const queue: { at: number; pkt: Buffer }[] = [];
    let nextAck = 0;
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const now = Date.now();
      const out: Buffer[] = [];
      while (queue.length) {
        const head = queue[0];
        const isAck = ACK_TYPES.has(head.pkt[0] >> 4);
        const due = isAck ? Math.max(head.at, nextAck) : head.at;
        if (due > now) break;
        if (isAck) {
          nextAck = Math.max(nextAck, head.at) + 1000 / opts.acksPerSecond;
          acks++;
        }
        out.push(head.pkt);
        queue.shift();
      }
      if (out.length && !client.destroyed) client.write(Buffer.concat(out));
      if (queue.length) schedule();
    };
    const schedule = () => {
      if (timer) return;
      const head = queue[0];
      const isAck = ACK_TYPES.has(head.pkt[0] >> 4);
      const due = isAck ? Math.max(head.at, nextAck) : head.at;
      timer = setTimeout(
        () => {
          timers.delete(timer!);
          pump();
        },
        Math.max(0, due - Date.now()),
      );
      timers.add(timer);
    };
    broker.on('data', (chunk: Buffer) => {
      const at = Date.now() + opts.latencyMs;
      for (const pkt of packets.push(chunk)) queue.push({ at: ACK_TYPES.has(pkt[0] >> 4) ? at + (opts.ackDelayMs ?? 0) : at, pkt: Buffer.from(pkt) });
      if (queue.length) schedule();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    acks: () => acks,
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
