/**
 * check-endpoint: the server as a vehicle on the internet finds it. DNS, TCP, TLS 1.2+, the chain
 * against the `ca` the vehicle is given, the CertificateRequest and its CA names (read from
 * `openssl s_client`: Node's TLS client does not expose them), and with a client certificate a
 * WebSocket upgrade and one frame acked. One line per check (formatLine of check.ts).
 */
import { execFile } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect as netConnect, isIP } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { RecordFactory } from '../../emulator/records.js';
import { readFrame, writeStreamFrame, type Frame } from '../../envelope/index.js';
import { splitPem, teslaCaDir } from '../../tls/ca-bundle.js';
import { certLabel, cnOf } from '../../tls/cert-label.js';
import type { CheckLine } from '../../tls/check.js';
import { explainVerifyError, probeTls, type TlsProbe } from '../../tls/probe.js';
import { fetchStatus, tlsEndLine } from './tls-end.js';

export interface EndpointOptions {
  host: string;
  port: number;
  ca: string;
  /** Where the ca came from (a file, a JSON file's "ca"), named with its certificates in messages. */
  caFrom?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
  /** Where Tesla's bundles are (tests); default beside the program. */
  teslaCaDir?: string;
}

const PRIVATE_V4 = /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/;
const isPrivate = (a: string) => PRIVATE_V4.test(a) || a === '::1' || /^f[cd]/i.test(a) || /^fe80:/i.test(a);
const nameOf = (s: string) => JSON.stringify(cnOf(s));

/** A distinguished name as a sorted list of `k=v` parts, so openssl's and Node's spellings compare. */
function dnKey(dn: string, sep: 'openssl' | 'node'): string {
  const parts = sep === 'node' ? dn.split('\n') : dn.split(/(?<!\\),/);
  return parts
    .map((p) =>
      p
        .trim()
        .replace(/\\(.)/g, '$1')
        .replace(/^([A-Za-z0-9.]+)\s*=\s*/, (_, k: string) => `${k.toUpperCase()}=`),
    )
    .filter(Boolean)
    .sort()
    .join('|');
}

interface SClientResult {
  /** The server sent a CertificateRequest. */
  requested: boolean;
  /** Its CA names, as openssl prints them with RFC 2253. */
  caNames: string[];
  verifyCode?: number;
  verifyText?: string;
  protocol?: string;
  output: string;
  error?: string;
}

/** What `openssl s_client` learns from one handshake. */
function sClient(o: {
  host: string;
  port: number;
  servername: string;
  caFile?: string;
  cert?: string;
  key?: string;
  timeoutMs?: number;
}): Promise<SClientResult> {
  const args = ['s_client', '-connect', `${isIP(o.host) === 6 ? `[${o.host}]` : o.host}:${o.port}`, '-nameopt', 'RFC2253'];
  if (!isIP(o.servername)) args.push('-servername', o.servername, '-verify_hostname', o.servername);
  else args.push('-verify_ip', o.servername);
  if (o.caFile) args.push('-CAfile', o.caFile);
  if (o.cert && o.key) args.push('-cert', o.cert, '-key', o.key);
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { timeout: o.timeoutMs ?? 10_000 }, (err, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      const names = /Acceptable client certificate CA names\n([\s\S]*?)\n(?:Requested|Client Certificate Types|Shared|Peer|Server Temp Key|---)/.exec(stdout);
      const verify = /Verify return code: (\d+) \(([^)]*)\)/.exec(stdout);
      const protocol = /Protocol\s*:\s*(\S+)/.exec(stdout) ?? /New, (TLSv[\d.]+),/.exec(stdout);
      const spawnFailed = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve({
        requested: /Requested Signature Algorithms|Client Certificate Types|Acceptable client certificate CA names/.test(stdout),
        caNames: names
          ? names[1]
              .split('\n')
              .map((l) => l.trim())
              .filter(Boolean)
          : [],
        verifyCode: verify ? Number(verify[1]) : undefined,
        verifyText: verify?.[2],
        protocol: protocol?.[1],
        output,
        error: spawnFailed ? 'openssl is not installed' : !/CONNECTED/.test(stdout) ? (stderr.trim().split('\n')[0] ?? 'openssl failed') : undefined,
      });
    });
    // openssl may be gone before its stdin closes (EPIPE): its output above says what happened.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end('');
  });
}

function tcpCheck(host: string, port: number, ms: number): Promise<{ ms?: number; error?: string }> {
  const start = Date.now();
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ error: `no answer within ${ms} ms (a firewall dropping it, or no route)` });
    }, ms);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ms: Date.now() - start });
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({
        error: err.code === 'ECONNREFUSED' ? 'connection refused: nothing listens there (or a firewall refuses it)' : `${err.code ?? ''} ${err.message}`.trim(),
      });
    });
  });
}

const PROTOCOL_ERRORS = /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW|TLSV1_ALERT_PROTOCOL_VERSION/;

/** The newest protocol the server agrees to when the client allows everything down to TLS 1.0. */
async function oldProtocol(o: EndpointOptions, servername: string): Promise<string | undefined> {
  const r = await probeTls({
    host: o.host,
    port: o.port,
    servername,
    ca: o.ca,
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1.1',
    ciphers: 'DEFAULT@SECLEVEL=0',
    timeoutMs: o.timeoutMs,
  });
  return r.protocol;
}

function vinOf(certPem: string): string {
  const cn = /^CN=(.*)$/m.exec(new X509Certificate(certPem).subject)?.[1] ?? '';
  return cn.replace(/\./g, '-');
}

/** A WebSocket upgrade with the client certificate and one V frame; resolves to the outcome. */
function frameCheck(o: EndpointOptions): Promise<CheckLine> {
  const vin = vinOf(o.cert!);
  const ms = o.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    const url = `wss://${isIP(o.host) === 6 ? `[${o.host}]` : o.host}:${o.port}/`;
    const ws = new WebSocket(url, { ca: o.ca, cert: o.cert, key: o.key, headers: { Version: 'check-endpoint' } });
    const txid = randomUUID();
    const start = Date.now();
    let done = false;
    const finish = (l: CheckLine) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(l);
    };
    const timer = setTimeout(() => finish({ status: 'fail', check: 'frame', message: `no response to the frame within ${ms} ms` }), ms);
    ws.on('unexpected-response', (_req, res) =>
      finish({
        status: 'fail',
        check: 'websocket',
        message: `the upgrade was answered with HTTP ${res.statusCode}${res.statusCode === 403 ? ' (the client certificate is refused as a vehicle identity)' : ''}`,
      }),
    );
    ws.on('error', (err) => finish({ status: 'fail', check: 'websocket', message: `the upgrade failed: ${err.message}` }));
    ws.on('close', (code) => finish({ status: 'fail', check: 'frame', message: `the server closed the connection (${code}) before answering the frame` }));
    ws.on('open', () => {
      const rec = new RecordFactory({ vin, seed: 1, fields: 3 }).next();
      ws.send(
        writeStreamFrame({
          txid,
          recordType: rec.recordType,
          payload: rec.payload,
          senderId: `vehicle_device.${vin}`,
          createdAt: Math.floor(Date.now() / 1000),
        }),
      );
    });
    ws.on('message', (data: Buffer) => {
      let f: Frame;
      try {
        f = readFrame(data);
      } catch (err) {
        return finish({ status: 'fail', check: 'frame', message: `the server answered with an unreadable frame: ${(err as Error).message}` });
      }
      if (f.txid !== txid) return;
      if (f.messageType === 5) {
        finish({ status: 'ok', check: 'frame', message: `WebSocket upgrade as ${vin}; one V frame acked in ${Date.now() - start} ms` });
      } else {
        const why = f.stream ? Buffer.from(f.stream.payload).toString('utf8') : `message type ${f.messageType}`;
        finish({ status: 'fail', check: 'frame', message: `the frame got an error response: ${why}` });
      }
    });
  });
}

function bundle(dir: string, file: string): { key: string; subject: string }[] {
  return splitPem(readFileSync(join(dir, file), 'utf8')).map((p) => {
    const subject = new X509Certificate(p).subject;
    return { key: dnKey(subject, 'node'), subject };
  });
}

function clientCaLines(s: SClientResult, dir: string): CheckLine[] {
  if (!s.requested) {
    return [
      {
        status: 'fail',
        check: 'client_cert',
        message:
          'the server does not ask for a client certificate: vehicles authenticate with theirs, so mTLS must end at the fleet-telemetry server, ' +
          'or at a proxy that asks for it and passes it to a server in tls.proxy mode (a TLS-terminating proxy or load balancer in front that does not?)',
      },
    ];
  }
  const lines: CheckLine[] = [
    {
      status: 'ok',
      check: 'client_cert',
      message: `the server asks for a client certificate, naming ${s.caNames.length} acceptable CA${s.caNames.length === 1 ? '' : 's'}`,
    },
  ];
  const offered = new Set(s.caNames.map((n) => dnKey(n, 'openssl')));
  const prod = bundle(dir, 'production.pem');
  const eng = bundle(dir, 'engineering.pem');
  const long = longCaList(s.caNames.length, [...offered].filter((k) => !prod.some((c) => c.key === k) && !eng.some((c) => c.key === k)).length);
  if (long) lines.push(long);
  const prodIn = prod.filter((c) => offered.has(c.key));
  const engIn = eng.filter((c) => offered.has(c.key));
  if (prodIn.length === prod.length) {
    lines.push({ status: 'ok', check: 'tesla_ca', message: `all ${prod.length} CAs of Tesla's production vehicle bundle are among them` });
  } else if (prodIn.length > 0) {
    const missing = prod.filter((c) => !offered.has(c.key)).map((c) => nameOf(c.subject));
    lines.push({
      status: 'warn',
      check: 'tesla_ca',
      message: `${prodIn.length} of ${prod.length} production vehicle CAs are among them; missing ${missing.join(', ')}: cars issued by those will not connect`,
    });
  } else if (engIn.length > 0) {
    lines.push({
      status: 'warn',
      check: 'tesla_ca',
      message: "only Tesla's engineering vehicle CAs are among them (use_default_eng_ca): production cars will not connect",
    });
  } else {
    lines.push({
      status: 'fail',
      check: 'tesla_ca',
      message: "none of Tesla's vehicle CAs is among them: real cars will not find an issuer of theirs and cannot connect (is tls.trust_tesla_ca false?)",
    });
  }
  return lines;
}

/**
 * Whether the server's acceptable-CA list (openssl's RFC 2253 names) names an issuer of the client
 * certificate (the leaf and any intermediates in the --cert file): a server refuses a certificate
 * none of its CAs issued, and says nothing but a closed connection. Pure.
 */
export function clientIssuerLine(certPem: string, caNames: string[]): CheckLine {
  const certs = splitPem(certPem).map((p) => new X509Certificate(p));
  const offered = new Set(caNames.map((n) => dnKey(n, 'openssl')));
  const leaf = certs[0];
  const known = certs.some((c) => offered.has(dnKey(c.issuer, 'node')) || (c !== leaf && offered.has(dnKey(c.subject, 'node'))));
  const issuer = nameOf(certs[certs.length - 1].issuer);
  if (known) return { status: 'ok', check: 'client_issuer', message: `the client certificate's issuer ${issuer} is among the CAs the server accepts` };
  const shown = caNames.slice(0, 8).map(nameOf);
  const more = caNames.length > shown.length ? ` and ${caNames.length - shown.length} more` : '';
  return {
    status: 'fail',
    check: 'client_issuer',
    message:
      `the client certificate ${nameOf(leaf.subject)} is issued by ${issuer}, which is not among the ${caNames.length} CA${caNames.length === 1 ? '' : 's'} ` +
      `the server accepts (${shown.join(', ')}${more}): the server will refuse it (add its CA to the server's tls.ca_file, or use a certificate one of them issued)`,
  };
}

/** Names beyond Tesla's bundles past which the acceptable-CA list is a system store, not a pool. */
export const EXTRA_CA_NAMES_WARN = 16;

/**
 * Vehicles choose the certificate they send from the acceptable-CA list: a proxy that named the
 * whole system store made cars send none (teslamotors/fleet-telemetry#395). Pure.
 */
export function longCaList(total: number, notTesla: number): CheckLine | undefined {
  if (notTesla <= EXTRA_CA_NAMES_WARN) return undefined;
  return {
    status: 'warn',
    check: 'ca_list',
    message:
      `${total} acceptable CAs are named, ${notTesla} of them not Tesla's vehicle CAs: a long list (a system CA store) made cars stop sending their certificate ` +
      "(teslamotors/fleet-telemetry#395); the server or proxy should name Tesla's vehicle bundle and tls.ca_file only",
  };
}

export async function checkEndpoint(o: EndpointOptions): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const ms = o.timeoutMs ?? 10_000;
  const servername = o.host;

  // DNS
  let addrs = [o.host];
  if (isIP(o.host)) {
    lines.push({ status: 'ok', check: 'dns', message: `${o.host} is an IP address (the server certificate must cover it)` });
  } else {
    try {
      addrs = (await lookup(o.host, { all: true })).map((a) => a.address);
      const pub = addrs.filter((a) => !isPrivate(a));
      lines.push(
        pub.length
          ? { status: 'ok', check: 'dns', message: `${o.host} resolves to ${addrs.join(', ')}` }
          : {
              status: 'warn',
              check: 'dns',
              message: `${o.host} resolves to ${addrs.join(', ')} only: private or loopback, not reachable by a vehicle on the internet`,
            },
      );
    } catch (err) {
      lines.push({ status: 'fail', check: 'dns', message: `${o.host} does not resolve: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return lines;
    }
  }

  // TCP: the first address that accepts (a vehicle tries them in turn too)
  let address: string | undefined;
  const refused: string[] = [];
  for (const a of addrs) {
    const tcp = await tcpCheck(a, o.port, ms);
    if (tcp.error) {
      refused.push(`${a} port ${o.port}: ${tcp.error}`);
      continue;
    }
    address = a;
    lines.push({ status: 'ok', check: 'tcp', message: `${a} port ${o.port} accepts connections (${tcp.ms} ms)` });
    break;
  }
  for (const r of refused) lines.push({ status: address ? 'warn' : 'fail', check: 'tcp', message: r });
  if (!address) return lines;

  // TLS, chain, host name (Node), then the CertificateRequest (openssl)
  const probe: TlsProbe = await probeTls({ host: address, port: o.port, servername, ca: o.ca, cert: o.cert, key: o.key, timeoutMs: ms });
  const caFile = tempCa(o.ca);
  let s: SClientResult;
  try {
    s = await sClient({ host: address, port: o.port, servername, caFile: caFile.path, timeoutMs: ms });
  } finally {
    caFile.remove();
  }
  // Judged from the CA names just read, before any upgrade is tried.
  const issuerLine = o.cert && s.requested && !s.error ? clientIssuerLine(o.cert, s.caNames) : undefined;
  if (probe.error) {
    const code = `${probe.error.code ?? ''} ${probe.error.message}`;
    if (PROTOCOL_ERRORS.test(code) || /wrong version number/i.test(code)) {
      const old = await oldProtocol(o, servername);
      lines.push({
        status: 'fail',
        check: 'tls',
        message: old
          ? `the server speaks ${old} at most; vehicles need TLS 1.2 or newer`
          : /wrong version number/i.test(code)
            ? 'the port does not answer TLS (plain HTTP, or another protocol)'
            : `no TLS 1.2 or newer: ${probe.error.message}`,
      });
      return lines;
    }
    if (!o.cert && s.protocol && s.verifyCode !== undefined) {
      // TLS 1.2 ends the handshake when no client certificate comes; openssl still saw the chain.
      lines.push({
        status: 'ok',
        check: 'tls',
        message: `${s.protocol} (the server ended the handshake after asking for a client certificate; give --cert/--key for a complete one)`,
      });
      lines.push(
        s.verifyCode === 0
          ? { status: 'ok', check: 'chain', message: `the server's chain verifies against the ca for ${servername} (judged by openssl)` }
          : { status: 'fail', check: 'chain', message: `the server's chain does not verify against the ca for ${servername}: ${s.verifyText ?? s.verifyCode}` },
      );
      lines.push(...clientCaLines(s, o.teslaCaDir ?? teslaCaDir()));
      if (issuerLine) lines.push(issuerLine);
      return lines;
    }
    if (issuerLine) lines.push(issuerLine);
    lines.push({
      status: 'fail',
      check: 'tls',
      message: `the TLS handshake failed: ${probe.error.message.split('\n')[0]}${issuerLine?.status === 'fail' ? ' (the server refused the client certificate: see client_issuer)' : ''}`,
    });
    return lines;
  }
  lines.push({ status: 'ok', check: 'tls', message: `${probe.protocol} agreed` });
  const path = probe.chain.map((c) => nameOf(c.subject)).join(' issued by ');
  lines.push(
    probe.authorized
      ? { status: 'ok', check: 'chain', message: `verifies against the ca: ${path}${anchorOf(probe.chain, o)}` }
      : {
          status: 'fail',
          check: 'chain',
          message: `does not verify against the ca: ${explainVerifyError(probe.authorizationError ?? '', probe.chain, { pem: o.ca, from: o.caFrom })}`,
        },
  );
  const leaf = probe.chain[0];
  const san = leaf?.subjectAltName?.replace(/IP Address:/g, 'IP:');
  lines.push(
    probe.nameError
      ? { status: 'fail', check: 'hostname', message: `${servername} is not covered by the server certificate${san ? ` (it covers ${san})` : ''}` }
      : { status: 'ok', check: 'hostname', message: `${servername} is covered by the server certificate` },
  );
  if (s.error) lines.push({ status: 'warn', check: 'client_cert', message: `cannot read the CertificateRequest: ${s.error}` });
  else lines.push(...clientCaLines(s, o.teslaCaDir ?? teslaCaDir()));
  if (issuerLine) lines.push(issuerLine);
  const end = tlsEndLine(await fetchStatus({ host: address, port: o.port, servername, ca: o.ca, cert: o.cert, key: o.key, timeoutMs: ms }), !!o.cert);
  if (end) lines.push(end);

  // An issuer the server does not name is still tried: the upgrade's outcome is reported beside it.
  if (o.cert && o.key && !lines.some((l) => l.status === 'fail' && l !== issuerLine)) {
    const frame = await frameCheck(o);
    if (issuerLine?.status === 'fail') {
      if (frame.status === 'fail') frame.message += " (as expected: the server does not accept the client certificate's issuer, see client_issuer)";
      else issuerLine.status = 'warn';
    }
    lines.push(frame);
  }
  return lines;
}

/** `, trusted as "X" (SHA-256 …) from FILE`: which certificate of the ca the chain ends at. */
function anchorOf(chain: X509Certificate[], o: EndpointOptions): string {
  const top = chain[chain.length - 1];
  if (!top) return '';
  const anchor = splitPem(o.ca)
    .map((p) => new X509Certificate(p))
    .find((c) => c.fingerprint256 === top.fingerprint256 || (top.checkIssued(c) && top.verify(c.publicKey)));
  return anchor ? `, trusted as ${certLabel(anchor, o.caFrom)}` : '';
}

/** openssl reads the ca from a file; a private temporary one, removed after. */
function tempCa(pem: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'check-endpoint-'));
  const path = join(dir, 'ca.pem');
  writeFileSync(path, pem, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
