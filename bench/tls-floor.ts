/**
 * make bench-tls-floor: what an idle WebSocket connection costs in a bare Node https + ws server
 * (no code of the project), with mTLS, mTLS without session tickets, and server-only TLS. It is
 * the floor under bench-scale's RSS per vehicle: the part of it that no change of ours can cut.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSecureContext } from 'node:tls';
import WebSocket from 'ws';
import { makePki } from '../test/helpers/pki.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { deadlineExit, track, trackDir } from './lib/cleanup.js';
import { fdLimits } from './lib/proc.js';
import { fix, int } from './lib/report.js';

const SPEC = {
  connections: { type: 'number', default: 4000, min: 1, max: 50_000, int: true, help: 'idle connections per variant' },
  batch: { type: 'number', default: 50, min: 1, max: 1000, int: true, help: 'connections opened at once' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/tls-floor.js [flags]   (make bench-tls-floor)');
deadlineExit(600_000, 'bench-tls-floor');

interface Variant {
  name: string;
  mtls: boolean;
  tickets: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'mTLS (Node defaults: session tickets on)', mtls: true, tickets: true },
  { name: 'mTLS, session tickets off', mtls: true, tickets: false },
  { name: 'server-only TLS, session tickets on', mtls: false, tickets: true },
];

interface Memory {
  open: number;
  rss: number;
  heapUsed: number;
}

async function measure(v: Variant, files: { cert: string; key: string; ca: string }, client: ReturnType<typeof createSecureContext>, n: number) {
  const child = track(
    fork(
      join(dirname(fileURLToPath(import.meta.url)), 'lib', 'tls-floor-server.js'),
      [files.cert, files.key, files.ca, v.mtls ? '1' : '0', v.tickets ? '1' : '0'],
      {
        execArgv: ['--expose-gc'],
      },
    ),
  );
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { port } = await next<{ port: number }>();
  child.send('mem');
  const before = await next<Memory>();
  const sockets: WebSocket[] = [];
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
        secureContext: client,
        servername: 'localhost',
        perMessageDeflate: false,
      } as WebSocket.ClientOptions);
      ws.once('open', () => {
        sockets.push(ws);
        resolve();
      });
      ws.once('error', reject);
    });
  for (let i = 0; i < n; i += flags.batch!) await Promise.all(Array.from({ length: Math.min(flags.batch!, n - i) }, open));
  await new Promise((r) => setTimeout(r, 1000));
  child.send('mem');
  const after = await next<Memory>();
  for (const ws of sockets) ws.terminate();
  child.kill();
  return {
    variant: v.name,
    open: after.open,
    rssPerConnKb: (after.rss - before.rss) / after.open / 1024,
    heapPerConnKb: (after.heapUsed - before.heapUsed) / after.open / 1024,
    rssNoneMb: before.rss / 1048576,
  };
}

async function main(): Promise<void> {
  const n = Math.min(flags.connections!, fdLimits().soft - 200);
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-tls-floor-')));
  const pki = await makePki(dir);
  const v = await pki.vehicle('5YJ3E1EA7KF000001');
  writeFileSync(join(dir, 'v.pem'), v.certPem);
  const files = { cert: pki.serverCert, key: pki.serverKey, ca: pki.caFile };
  const client = createSecureContext({ cert: v.certPem, key: v.keyPem, ca: pki.ca.certPem });
  console.log(
    `bench-tls-floor — node ${process.version} (OpenSSL ${process.versions.openssl}), ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${int(n)} idle WebSocket connections per variant, ECDSA P-256 certificates\n`,
  );
  for (const variant of VARIANTS) {
    const r = await measure(variant, files, client, n);
    console.log(
      `${r.variant.padEnd(44)} RSS ${fix(r.rssPerConnKb, 1)} kB per connection (JS heap ${fix(r.heapPerConnKb, 1)} kB of it); ${int(r.open)} open, ${fix(r.rssNoneMb, 0)} MB with none`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
