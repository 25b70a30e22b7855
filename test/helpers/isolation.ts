import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Long from 'long';
import WebSocket from 'ws';
import { writeStreamFrame } from '../../src/envelope/index.js';
import { lookupType } from '../../src/record/schema.js';
import type { KeyPairPem } from '../../src/tls/dev-certs.js';
import { accepting, deadline, freePort, trackChild, waitUntil } from './ports.js';
import type { VehicleClient } from './vehicle.js';

// Helpers for the isolation tests (one vehicle must never disturb another, the broker link or the
// server's memory): hostile names, refused certificates, RSS of the server, a NATS broker.

const ts = (s: number) => ({ seconds: Long.fromNumber(s), nanos: 0 });

function encode(type: string, obj: Record<string, unknown>): Uint8Array {
  const ty = lookupType(type);
  return ty.encode(ty.fromObject(obj)).finish();
}

/** An `alerts` frame with one alert per name, each with a started_at (so it gets a `current`). */
export function alertsFrame(txid: string, vin: string, names: string[]): Uint8Array {
  const payload = encode('telemetry.vehicle_alerts.VehicleAlerts', {
    created_at: ts(1700000000),
    vin,
    alerts: names.map((name, i) => ({ name, audiences: [1], started_at: ts(1700000100 + i) })),
  });
  return writeStreamFrame({ txid, recordType: 'alerts', payload, senderId: `vehicle_device.${vin}`, createdAt: 1700000000 });
}

/** An `errors` frame with one error per name. */
export function errorsFrame(txid: string, vin: string, names: string[]): Uint8Array {
  const payload = encode('telemetry.vehicle_error.VehicleErrors', {
    created_at: ts(1700000000),
    vin,
    errors: names.map((name) => ({ name, body: 'b', tags: { k: 'v' }, created_at: ts(1700000000) })),
  });
  return writeStreamFrame({ txid, recordType: 'errors', payload, senderId: `vehicle_device.${vin}`, createdAt: 1700000000 });
}

/** The response to `txid`, or 'none' when there is none within `ms` (never throws). */
export async function outcome(v: VehicleClient, txid: string, ms: number): Promise<'ack' | 'error' | 'none'> {
  try {
    return (await v.response(txid, ms)).kind;
  } catch {
    return 'none';
  }
}

/**
 * Opens a WebSocket with `cert` and says how the upgrade went: the HTTP status of a refused
 * upgrade, 'open' when it was accepted (then closed at once), or the error message.
 */
export function upgradeOutcome(port: number, cert: KeyPairPem, caPem: string, ms = 5000): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://localhost:${port}/`, { cert: cert.certPem, key: cert.keyPem, ca: caPem });
    const done = (r: number | string) => {
      clearTimeout(timer);
      resolve(r);
      ws.terminate();
    };
    const timer = setTimeout(() => done('timeout'), ms);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    ws.once('open', () => done('open'));
    ws.once('error', (err) => done(err.message));
  });
}

/** Resident set size of a process in kB (VmRSS), NaN when it is gone. */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; keeps the peak. */
export function rssSampler(pid: number, everyMs = 100): { peakKb(): number; stop(): number } {
  let peak = 0;
  const take = () => {
    const r = rssKb(pid);
    if (r > peak) peak = r;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    peakKb: () => peak,
    stop: () => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

/**
 * `n` WebSocket ping frames, masked as a client must send them (RFC 6455 §5.3), in one buffer:
 * written on the socket in one write, they arrive at the server in one read.
 */
export function maskedPings(n: number, payload = Buffer.from('ping')): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const mask = Buffer.from([i & 0xff, 0x5a, 0xa5, (i >> 8) & 0xff]);
    const head = Buffer.from([0x89, 0x80 | payload.length]);
    const body = Buffer.from(payload.map((b, j) => b ^ mask[j & 3]));
    frames.push(head, mask, body);
  }
  return Buffer.concat(frames);
}

export const NATS_BINARY = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));

export interface Nats {
  mqttPort: number;
  url: string;
  stop(): Promise<void>;
  stderr(): string;
}

/** nats-server with JetStream (MQTT needs it) and an MQTT listener, on free loopback ports. */
export async function startNats(dir: string): Promise<Nats> {
  if (!NATS_BINARY) throw new Error('nats-server is not installed');
  const port = await freePort();
  const mqttPort = await freePort();
  const store = join(dir, `nats-js-${mqttPort}`);
  mkdirSync(store, { recursive: true });
  const conf = join(dir, `nats-${mqttPort}.conf`);
  writeFileSync(
    conf,
    [`server_name: ft_test_${mqttPort}`, `listen: 127.0.0.1:${port}`, `jetstream { store_dir: "${store}" }`, `mqtt { listen: 127.0.0.1:${mqttPort} }`].join(
      '\n',
    ) + '\n',
  );
  // JetStream and its store come from the file (`-js -sd` beside `jetstream {store_dir}` is refused).
  const proc: ChildProcess = spawn(NATS_BINARY, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(proc);
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-8000)));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-8000)));
  await waitUntil(() => accepting(mqttPort), 15_000, `nats-server MQTT on port ${mqttPort}`).catch((e: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}: ${err}`);
  });
  return {
    mqttPort,
    url: `mqtt://127.0.0.1:${mqttPort}`,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, deadline(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** UTF-8 byte length. */
export const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');
