/**
 * make bench-proxy-memory: what one idle vehicle costs with mTLS ended at the server (direct) and
 * at a proxy in front (tls.proxy mode), the server and the proxy each. N vehicles connect, each
 * sends one frame and waits for its ack, then all stay idle; RSS before and after, divided by N.
 * Proxies: deploy/nginx.conf and deploy/haproxy-tls.cfg as shipped, both upstreams on one server.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import WebSocket from 'ws';
import { makePki, type TestPki } from '../test/helpers/pki.js';
import { NGINX, startNginx } from '../test/helpers/nginx.js';
import { HAPROXY, startTlsLb } from '../test/helpers/haproxy.js';
import { teslaCaDir } from '../src/tls/ca-bundle.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { startBroker } from './lib/broker.js';
import { deadlineExit, trackDir } from './lib/cleanup.js';
import { FrameTemplate, readResponse, RESPONSE_ACK } from './lib/frames.js';
import { sleep } from './lib/net.js';
import { freePort } from '../test/helpers/ports.js';
import { childPids, rssKb } from './lib/proc.js';
import { fix, int } from './lib/report.js';
import { launchServer, type BenchServer } from './lib/server.js';

const SPEC = {
  vehicles: { type: 'number', default: 3000, min: 10, max: 8000, int: true, help: 'idle vehicles held in each mode' },
  certs: { type: 'number', default: 100, min: 1, max: 2000, int: true, help: 'distinct vehicle certificates (VINs), shared round-robin' },
  settle: { type: 'number', default: 5, min: 1, max: 60, help: 'seconds idle before RSS is read' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;

const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/proxy-memory.js [flags]   (make bench-proxy-memory)');
const log = (s: string) => process.stderr.write(s + '\n');
deadlineExit(15 * 60_000, 'bench-proxy-memory');

/** RSS of a process and its children (nginx's master and workers), kB. */
const treeRss = (pid: number) => rssKb(pid) + childPids(pid).reduce((a, p) => a + (rssKb(p) || 0), 0);

/** N vehicles through `port`, each acked once; resolves with the open sockets. */
async function connectAll(port: number, contexts: SecureContext[], vins: string[]): Promise<WebSocket[]> {
  const open: WebSocket[] = [];
  const resp = { kind: 0, seq: -1 };
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
        secureContext: contexts[i % contexts.length],
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      } as WebSocket.ClientOptions);
      ws.once('open', () => ws.send(new FrameTemplate(vins[i % vins.length], i, 5).frame(0)));
      ws.on('message', (b: Buffer) => {
        readResponse(b, resp);
        if (resp.kind !== RESPONSE_ACK) return reject(new Error(`vehicle ${i}: not an ack`));
        open.push(ws);
        resolve();
      });
      ws.once('error', reject);
    });
  for (let i = 0; i < flags.vehicles!; i += 100) await Promise.all(Array.from({ length: Math.min(100, flags.vehicles! - i) }, (_, k) => one(i + k)));
  return open;
}

interface Row {
  mode: string;
  server: number;
  proxy?: number;
}

async function measureMode(
  mode: string,
  server: BenchServer,
  port: number,
  proxyPid: number | undefined,
  contexts: SecureContext[],
  vins: string[],
): Promise<Row> {
  await sleep(2000);
  const s0 = rssKb(server.pid);
  const p0 = proxyPid ? treeRss(proxyPid) : 0;
  const t0 = Date.now();
  const socks = await connectAll(port, contexts, vins);
  await sleep(flags.settle! * 1000);
  const s1 = rssKb(server.pid);
  const p1 = proxyPid ? treeRss(proxyPid) : 0;
  const n = socks.length;
  log(
    `${mode}: ${int(n)} vehicles connected and acked in ${fix((Date.now() - t0) / 1000, 1)} s; server RSS ${fix(s0 / 1024, 0)} → ${fix(s1 / 1024, 0)} MB${proxyPid ? `, proxy ${fix(p0 / 1024, 0)} → ${fix(p1 / 1024, 0)} MB` : ''}`,
  );
  for (const ws of socks) ws.terminate();
  await sleep(1000);
  return { mode, server: (s1 - s0) / n, proxy: proxyPid ? (p1 - p0) / n : undefined };
}

async function main(): Promise<void> {
  const dir = trackDir(mkdtempSync(join(tmpdir(), 'ft-proxy-mem-')));
  const pki: TestPki = await makePki(join(dir, 'pki'));
  const vins = Array.from({ length: flags.certs! }, (_, i) => `5YJ3PROXY${String(i).padStart(8, '0')}`);
  const certs = [];
  for (let i = 0; i < vins.length; i += 50) certs.push(...(await Promise.all(vins.slice(i, i + 50).map((v) => pki.vehicle(v)))));
  const contexts = certs.map((c) => createSecureContext({ cert: c.certPem, key: c.keyPem, ca: pki.ca.certPem }));
  const broker = await startBroker(dir);
  const rows: Row[] = [];
  const base = { log_level: 'warn', records: { V: ['mqtt'] }, mqtt: { broker: broker.url, topic_base: 'pm', qos: 1 } };
  const tls = { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile };

  // A fresh server per mode: each starts from the same RSS.
  const direct = await launchServer(dir, { ...base, tls });
  rows.push(await measureMode('direct mTLS', direct, direct.port, undefined, contexts, vins));
  await direct.stop();

  const proxied = { ...base, tls: { ...tls, proxy: { trusted_proxies: ['127.0.0.1'], client_cert_header: 'X-Client-Cert' } } };
  const teslaCa = join(teslaCaDir(), 'production.pem');
  if (NGINX) {
    const server = await launchServer(dir, proxied);
    const nginx = await startNginx(dir, {
      FT_PROXY_CERT: pki.serverCert,
      FT_PROXY_KEY: pki.serverKey,
      FT_TESLA_CA: teslaCa,
      FT_CA_FILE: pki.caFile,
      FT_SERVER1_ADDR: `127.0.0.1:${server.port}`,
      FT_SERVER2_ADDR: `127.0.0.1:${server.port}`,
    });
    rows.push(await measureMode('tls.proxy behind nginx', server, nginx.port, nginx.pid, contexts, vins));
    await nginx.stop();
    await server.stop();
  } else log('nginx is not installed: skipped');
  if (HAPROXY) {
    const statusPort = await freePort();
    const server = await launchServer(dir, { ...proxied, status_port: statusPort });
    const combined = join(dir, 'proxy.pem');
    writeFileSync(combined, readFileSync(pki.serverCert, 'utf8') + readFileSync(pki.serverKey, 'utf8'));
    const lb = await startTlsLb(
      [
        { port: server.port, statusPort },
        { port: server.port, statusPort },
      ],
      { proxyCert: combined, teslaCa, caFile: pki.caFile },
    );
    await sleep(1500); // two health checks (rise 2 at 500 ms)
    rows.push(await measureMode('tls.proxy behind haproxy', server, lb.port, lb.pid, contexts, vins));
    await lb.stop();
    await server.stop();
  } else log('haproxy is not installed: skipped');
  await broker.stop();

  process.stdout.write(`\n| mode (${int(flags.vehicles)} idle vehicles) | server RSS per vehicle | proxy RSS per vehicle | together |\n|---|---|---|---|\n`);
  for (const r of rows) {
    process.stdout.write(
      `| ${r.mode} | ${fix(r.server, 1)} kB | ${r.proxy === undefined ? '–' : `${fix(r.proxy, 1)} kB`} | ${fix(r.server + (r.proxy ?? 0), 1)} kB |\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench-proxy-memory: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
