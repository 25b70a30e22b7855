import t from 'tap';
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { KeyPairPem } from '../src/tls/dev-certs.js';
import { FrameTemplate, readResponse, RESPONSE_ACK, RESPONSE_ERROR } from '../bench/lib/frames.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { makePki } from './helpers/pki.js';
import { sleep } from './helpers/ports.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { maskedPings, outcome, rssSampler } from './helpers/isolation.js';

// What vehicles send must not be able to grow the server's memory without bound or starve other
// vehicles: a hung broker under pipelining, resending cars; messages far over the frame limit;
// a burst of pings. Memory is the server child's VmRSS, sampled every 100 ms.

const RSS_LIMIT_KB = 400 * 1024;
const speed = (v: number) => [
  { key: 'VehicleSpeed', value: { float_value: v } },
  { key: 'Odometer', value: { double_value: v * 10 } },
];

function serverConfig(pki: Awaited<ReturnType<typeof makePki>>, broker: string) {
  return {
    log_level: 'info',
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker, topic_base: 'tb', qos: 1, publish_timeout_ms: 2500, connect_retry_interval_ms: 200, connect_retry_max_interval_ms: 1000 },
  };
}

/**
 * A car that pipelines 50-field V frames as fast as its socket drains (a fresh txid each) and
 * resends, with the same txid, every frame unanswered after `resendMs`. Responses are read for
 * their kind and txid only, so the test process stays light.
 */
class Flooder {
  ws!: WebSocket;
  readonly tpl: FrameTemplate;
  next = 0;
  /** seq → last send time, in send order. */
  readonly unanswered = new Map<number, number>();
  acked = 0;
  errors = 0;
  sent = 0;
  resent = 0;
  closeCode?: number;
  private readonly resp = { kind: 0, seq: -1 };

  constructor(
    readonly vin: string,
    index: number,
    readonly resendMs = 2000,
  ) {
    this.tpl = new FrameTemplate(vin, index, 50);
  }

  connect(port: number, cert: KeyPairPem, caPem: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://localhost:${port}/`, { cert: cert.certPem, key: cert.keyPem, ca: caPem, perMessageDeflate: false });
      this.ws = ws;
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.on('error', () => {});
      ws.on('close', (code) => (this.closeCode = code));
      ws.on('message', (buf: Buffer) => {
        readResponse(buf, this.resp);
        if (this.resp.seq < 0 || !this.unanswered.delete(this.resp.seq)) return;
        if (this.resp.kind === RESPONSE_ACK) this.acked++;
        else if (this.resp.kind === RESPONSE_ERROR) this.errors++;
      });
    });
  }

  private sendSeq(seq: number): void {
    this.unanswered.delete(seq);
    this.unanswered.set(seq, Date.now());
    this.ws.send(this.tpl.frame(seq), { binary: true });
  }

  /** One tick: resend what is overdue, then new frames while the socket drains. */
  pump(fresh = true): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    let n = 0;
    for (const [seq, at] of this.unanswered) {
      if (now - at < this.resendMs || n >= 200 || this.ws.bufferedAmount > 512 * 1024) break;
      this.sendSeq(seq);
      this.resent++;
      n++;
    }
    for (let i = 0; fresh && i < 500 && this.ws.bufferedAmount < 512 * 1024 && this.unanswered.size < 200_000; i++) {
      this.sendSeq(this.next++);
      this.sent++;
    }
  }

  /** A fresh frame, resent every `resendMs` until acked; resolves with ms to the ack, or -1. */
  async probe(ms: number): Promise<number> {
    const start = Date.now();
    const seq = this.next++;
    const ackedBefore = this.acked;
    this.sendSeq(seq);
    while (Date.now() - start < ms) {
      await sleep(20);
      if (!this.unanswered.has(seq)) return this.acked > ackedBefore ? Date.now() - start : -1;
      if (Date.now() - this.unanswered.get(seq)! >= this.resendMs && this.ws.readyState === WebSocket.OPEN) this.sendSeq(seq);
    }
    return -1;
  }

  close(): void {
    this.ws.terminate();
  }
}

t.test('broker SIGSTOPped 15 s under 4 pipelining, resending vehicles: RSS < 400 MB, all acked again after resume', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const cars: Flooder[] = [];
  for (let i = 0; i < 4; i++) {
    const car = new Flooder(`5YJ3E1EA7KF1MEM0${i}`, i);
    await car.connect(server.port, await pki.vehicle(car.vin), pki.ca.certPem);
    cars.push(car);
  }
  for (const car of cars) t.ok((await car.probe(5000)) >= 0, `${car.vin} acked before the broker hangs`);

  const rss = rssSampler(server.proc.pid!);
  const pump = setInterval(() => cars.forEach((c) => c.pump()), 10);
  await sleep(1000);
  mosq.pause();
  const pausedAt = Date.now();
  await sleep(15_000);
  mosq.resume();
  const resumedAt = Date.now();
  const peakDuringPause = rss.peakKb();
  t.comment(
    `sent ${cars.reduce((n, c) => n + c.sent, 0)} frames, resent ${cars.reduce((n, c) => n + c.resent, 0)}, paused ${((resumedAt - pausedAt) / 1000).toFixed(1)} s`,
  );

  // The cars keep pipelining and resending through the recovery; each must be acked again soon.
  const ackedAtResume = cars.map((c) => c.acked);
  const toAck: number[] = cars.map(() => -1);
  while (Date.now() - resumedAt < 10_000 && toAck.some((ms) => ms < 0)) {
    await sleep(20);
    cars.forEach((c, i) => {
      if (toAck[i] < 0 && c.acked > ackedAtResume[i]) toAck[i] = Date.now() - resumedAt;
    });
  }
  clearInterval(pump);
  const peak = rss.stop();
  t.comment(
    `server RSS peak ${Math.round(peak / 1024)} MB (during the pause ${Math.round(peakDuringPause / 1024)} MB); ms to ack after resume: ${toAck.join(', ')}`,
  );
  t.ok(peakDuringPause < RSS_LIMIT_KB, `RSS during the pause stays under 400 MB (peak ${Math.round(peakDuringPause / 1024)} MB)`);
  t.ok(peak < RSS_LIMIT_KB, `RSS stays under 400 MB through the recovery (peak ${Math.round(peak / 1024)} MB)`);
  t.same(
    toAck.map((ms) => ms >= 0 && ms <= 8000),
    cars.map(() => true),
    `every vehicle is acked within 8 s of the resume (${toAck.join(', ')} ms)`,
  );
  t.same(
    cars.map((c) => c.closeCode ?? 'open'),
    cars.map(() => 'open'),
    'no vehicle was disconnected',
  );
  t.equal(
    cars.reduce((n, c) => n + c.errors, 0),
    0,
    "no error responses: a hung broker is never the vehicle's fault",
  );
  t.equal(server.proc.exitCode, null, 'the server is still running');
  cars.forEach((c) => c.close());
  await server.stop('SIGTERM', 30_000).catch(() => {});
  await mosq.stop();
});

t.test('8 connections each sending one 20 MB frame: closed with 1009 or answered an error; RSS bounded; a victim keeps being acked', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const VICTIM = '5YJ3E1EA7KF1BIGV0';
  const victim = await connectVehicle(server.port, await pki.vehicle(VICTIM), pki.ca.certPem);
  victim.send(vFrame('victim-warm', VICTIM, speed(0)));
  t.equal(await outcome(victim, 'victim-warm', 5000), 'ack', 'the victim is acked before');
  // The big senders in a worker thread: on this thread they blocked the loop timing the victim.
  const certs = await Promise.all(Array.from({ length: 8 }, (_, i) => pki.vehicle(`5YJ3E1EA7KF1BIG0${i}`)));
  const senders = new Worker(new URL('./helpers/big-senders.js', import.meta.url), {
    workerData: { port: server.port, caPem: pki.ca.certPem, certs, bytes: 20 * 1024 * 1024 },
  });
  t.teardown(() => senders.terminate());
  const fromSenders = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      senders.once('message', resolve);
      senders.once('error', reject);
    });
  await fromSenders();

  const rss = rssSampler(server.proc.pid!);
  // The victim sends a frame every 200 ms throughout and times each ack.
  const latencies: number[] = [];
  const unanswered: string[] = [];
  let stopVictim = false;
  const victimLoop = (async () => {
    for (let i = 0; !stopVictim; i++) {
      const txid = `victim-${i}`;
      const at = Date.now();
      victim.send(vFrame(txid, VICTIM, speed(i)));
      await sleep(200);
      void outcome(victim, txid, 5000).then((r) => (r === 'ack' ? latencies.push(Date.now() - at) : unanswered.push(`${txid}: ${r}`)));
    }
  })();

  const done = fromSenders();
  senders.postMessage('go');
  const { outcomes, length } = (await done) as { outcomes: string[]; length: number };
  t.ok(length > 20_000_000, `one frame of ${length} bytes`);
  await sleep(1500);
  stopVictim = true;
  await victimLoop;
  await sleep(5200);
  const peak = rss.stop();
  t.comment(
    `outcomes: ${outcomes.join(', ')}; server RSS peak ${Math.round(peak / 1024)} MB; victim acks ${latencies.length}, max ${Math.max(...latencies)} ms`,
  );
  t.same(
    outcomes.filter((o) => o !== 'close 1009' && o !== 'error'),
    [],
    'each 20 MB frame is refused: a 1009 close (over the 16 MiB WebSocket limit) or an error response',
  );
  t.ok(peak < RSS_LIMIT_KB, `RSS stays under 400 MB (peak ${Math.round(peak / 1024)} MB)`);
  t.same(unanswered, [], 'every victim frame is acked');
  t.ok(latencies.length >= 3 && Math.max(...latencies) < 3000, `the victim is acked throughout (max ${Math.max(...latencies)} ms)`);
  victim.send(vFrame('victim-after', VICTIM, speed(99)));
  t.equal(await outcome(victim, 'victim-after', 5000), 'ack', 'and after');
  await victim.close();
  await server.stop();
  await mosq.stop();
});

t.test('200 WebSocket pings in one write do not close the connection', async (t) => {
  const dir = t.testdir();
  const pki = await makePki(dir);
  const mosq = await startMosquitto(dir);
  const server = await startServer(dir, serverConfig(pki, mosq.url));
  await server.waitForLog((l) => l.event === 'mqtt_connected');
  const VIN = '5YJ3E1EA7KF1PING0';
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  v.send(vFrame('before', VIN, speed(1)));
  t.equal(await outcome(v, 'before', 5000), 'ack', 'acked before the burst');
  let pongs = 0;
  v.ws.on('pong', () => pongs++);
  // The client's own socket, under ws: the burst goes out as one TLS write, arriving as one read.
  const socket = (v.ws as unknown as { _socket: Socket })._socket;
  const burst = maskedPings(200);
  t.equal(burst.length, 200 * 10, 'two hundred masked 4-byte pings');
  await new Promise<void>((resolve, reject) => socket.write(burst, (err) => (err ? reject(err) : resolve())));
  await sleep(500);
  v.send(vFrame('after', VIN, speed(2)));
  t.equal(await outcome(v, 'after', 5000), 'ack', 'the next frame is acked');
  t.equal(v.ws.readyState, WebSocket.OPEN, 'the connection is still open');
  const closed = await Promise.race([v.closed.then((c) => c.code), sleep(300).then(() => 'open')]);
  t.equal(closed, 'open', 'no close frame came');
  t.comment(`${pongs} pongs`);
  await v.close();
  await server.stop();
  await mosq.stop();
});
