/**
 * Baseline (b): what the broker itself absorbs. Raw TCP, one CONNECT, then PUBLISH packets
 * encoded once into a chunk of `--batch` packets and written thousands per socket write, with
 * up to `--window` unacknowledged (QoS 1: PUBACK, QoS 2: PUBREC → PUBREL → PUBCOMP; QoS 0: the
 * write completing). Run as a child of bench/e2e.ts, or alone:
 *   node build/bench/batched-publisher.js --port P --file publishes.json --qos 1 [--seconds 5]
 */
import { connect, type Socket } from 'node:net';
import { arg, loadPublishes, servePublisher } from './lib/publisher-child.js';

const host = '127.0.0.1';
const port = Number(arg('port'));
const qos = Number(arg('qos', '1'));
const batch = Number(arg('batch', '2000'));
// Packet ids are 16 bits and reused in order, so the window must leave one chunk of ids free.
const window = qos === 0 ? batch * 4 : Math.min(Number(arg('window', '20000')), 65535 - batch);
const pubs = loadPublishes();

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** One chunk of `batch` PUBLISH packets (cycling through the publishes) and where their ids go. */
function encodeChunk(): { chunk: Buffer; idAt: Uint32Array } {
  const parts: Buffer[] = [];
  const idAt = new Uint32Array(batch);
  let size = 0;
  for (let k = 0; k < batch; k++) {
    const p = pubs[k % pubs.length];
    const topic = Buffer.from(p.topic, 'utf8');
    const payload = Buffer.from(p.payload, 'utf8');
    const remaining = 2 + topic.length + (qos > 0 ? 2 : 0) + payload.length;
    const head = Buffer.from([0x30 | (qos << 1), ...varint(remaining), topic.length >> 8, topic.length & 0xff]);
    const id = Buffer.alloc(qos > 0 ? 2 : 0);
    idAt[k] = size + head.length + topic.length;
    parts.push(head, topic, id, payload);
    size += head.length + topic.length + id.length + payload.length;
  }
  return { chunk: Buffer.concat(parts), idAt };
}

function encodeConnect(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  // Protocol "MQTT" level 4, clean session, keep-alive 0 (no pings needed while benchmarking).
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

const { chunk, idAt } = encodeChunk();
const counts = { done: 0, errors: 0, sent: 0 };
let socket: Socket;
let running = false;
let blocked = false;
let outstanding = 0;
let nextId = 1;
let rest: Buffer | undefined;
let onConnack: ((rc: number) => void) | undefined;

function fill(): void {
  while (running && !blocked && outstanding + batch <= window) {
    const buf = Buffer.allocUnsafe(chunk.length);
    chunk.copy(buf);
    if (qos > 0) {
      for (let k = 0; k < batch; k++) {
        buf[idAt[k]] = nextId >> 8;
        buf[idAt[k] + 1] = nextId & 0xff;
        nextId = nextId === 65535 ? 1 : nextId + 1;
      }
    }
    outstanding += batch;
    counts.sent += batch;
    const ok = socket.write(
      buf,
      qos === 0
        ? (err) => {
            outstanding -= batch;
            if (err) counts.errors += batch;
            else counts.done += batch;
            fill();
          }
        : undefined,
    );
    if (!ok) blocked = true;
  }
}

/** Counts PUBACK/PUBCOMP and answers PUBREC, straight off the byte stream. */
function onData(data: Buffer): void {
  const b = rest ? Buffer.concat([rest, data]) : data;
  rest = undefined;
  let at = 0;
  const rel: number[] = [];
  while (at + 2 <= b.length) {
    const type = b[at] >> 4;
    let len = 0;
    let mul = 1;
    let i = at + 1;
    let complete = false;
    while (i < b.length && i - at <= 4) {
      const byte = b[i++];
      len += (byte & 0x7f) * mul;
      mul *= 128;
      if (byte < 0x80) {
        complete = true;
        break;
      }
    }
    if (!complete || i + len > b.length) break;
    if (type === 4 || type === 7) {
      counts.done++;
      outstanding--;
    } else if (type === 5) rel.push(b[i], b[i + 1]);
    else if (type === 2) onConnack?.(b[i + 1]);
    at = i + len;
  }
  if (at < b.length) rest = Buffer.from(b.subarray(at));
  if (rel.length) {
    const out = Buffer.allocUnsafe(rel.length * 2);
    for (let k = 0; k < rel.length; k += 2) {
      out[k * 2] = 0x62;
      out[k * 2 + 1] = 2;
      out[k * 2 + 2] = rel[k];
      out[k * 2 + 3] = rel[k + 1];
    }
    socket.write(out);
  }
  fill();
}

const impl = {
  counts,
  connect: () =>
    new Promise<void>((resolve, reject) => {
      socket = connect(port, host, () => socket.write(encodeConnect(`bench-batched-${process.pid}`)));
      socket.setNoDelay(true);
      socket.on('data', onData);
      socket.on('drain', () => {
        blocked = false;
        fill();
      });
      socket.once('error', reject);
      socket.on('close', () => {
        if (running) {
          process.stderr.write('batched publisher: the broker closed the connection\n');
          process.exit(1);
        }
      });
      onConnack = (rc) => (rc === 0 ? resolve() : reject(new Error(`CONNACK ${rc}`)));
    }),
  start() {
    running = true;
    fill();
  },
  async stop(ms: number) {
    running = false;
    const end = Date.now() + ms;
    while (outstanding > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return outstanding;
  },
  async close() {
    socket.end(Buffer.from([0xe0, 0]));
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
  },
};

if (process.send) servePublisher(impl);
else {
  // Alone: run for --seconds and print publishes/s.
  const seconds = Number(arg('seconds', '5'));
  await impl.connect();
  impl.start();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = counts.done;
  const s = (performance.now() - t0) / 1000;
  await impl.stop(3000);
  await impl.close();
  console.log(`batched publisher: ${Math.round(n / s).toLocaleString('en-US')} publishes/s (QoS ${qos}, ${batch} per write, window ${window})`);
}
