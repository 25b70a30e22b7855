import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config/types.js';
import type { Dispatcher } from './dispatch.js';
import type { ServerEvents } from './events.js';
import { certificateNames, connectionIdFrom, vinFromCertificate } from './identity.js';
import { limitedLog, watchHandshakes } from './handshake.js';
import { serverLogLimiter } from './vehicle-log.js';
import { PendingRecords } from './pending.js';
import type { Readiness } from '../ops/readiness.js';
import { bindError } from './start-error.js';
import { startStatusServer, type StatusServer } from './status.js';
import { shortenForLog } from '../log-limit.js';
import { VehicleSession, type SessionOptions, type VehicleSocket } from './session.js';
import type { ServerTlsMaterial } from './tls.js';
import type { InflightGate } from './gate.js';
import { SUPERSEDED_CLOSE, type CloseOutcome, type PresencePort } from './presence/port.js';
import { createPlainListener } from './proxy/plain-listener.js';
import { proxiedCertificate } from './proxy/identify.js';
import { parseTrustedProxies } from '../config/trusted-proxies.js';

/**
 * The floor of docs/protocol.md §1.4: well above the 1,000,000 bytes of docs/protocol.md §3.2,
 * so an oversize frame gets an error response, not a 1009 close. Higher only lets a vehicle make the server buffer more (8 connections with a
 * 60 MB frame each took RSS to 780 MB at 64 MiB).
 */
const WS_MAX_PAYLOAD = 16 * 1024 * 1024;

export interface VehicleServer {
  port: number;
  statusPort?: number;
  sessions: Set<VehicleSession>;
  /** Closes connection `key` (presence: a newer one took over) unless it handled a frame at or after `since`. */
  closeIfIdle(key: string, since: number): CloseOutcome;
  /** A renewed certificate, key or client-CA pool for new handshakes; connected vehicles keep theirs. */
  setTls(m: Pick<ServerTlsMaterial, 'cert' | 'key' | 'ca'>): void;
  /** Stop accepting, finish in-flight frames, close every vehicle with a close frame. */
  shutdown(timeoutMs: number): Promise<void>;
}

export interface VehicleServerDeps {
  config: Config;
  tls: ServerTlsMaterial;
  dispatcher: Dispatcher;
  logger: Logger;
  events: ServerEvents;
  gate?: InflightGate;
  /** Whether records can be acked now (producers ready, not shutting down): the status port's /readyz. */
  readiness?: () => Readiness;
  presence?: PresencePort;
  /** First part of every connection key: this worker's number (0 for a single process) and pid. */
  keyOwner?: string;
}

/** A request header the vehicle chose, cut to what a log line or /vehicles should carry. */
function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return shortenForLog((Array.isArray(v) ? v[0] : v) ?? '');
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startVehicleServer(deps: VehicleServerDeps): Promise<VehicleServer> {
  const { config, logger } = deps;
  const sessions = new Set<VehicleSession>();
  const sockets = new Map<VehicleSession, WebSocket>();
  const byKey = new Map<string, VehicleSession>();
  const keyOwner = deps.keyOwner ?? `0/${process.pid}`;
  let keys = 0;
  const sessionOpts: SessionOptions = {
    dispatcher: deps.dispatcher,
    logger,
    events: deps.events,
    gate: deps.gate,
    logs: serverLogLimiter(),
    pending: new PendingRecords(),
    presence: deps.presence,
    rateLimit: config.rate_limit.enabled
      ? { messageLimit: config.rate_limit.message_limit, intervalMs: config.rate_limit.message_interval_time * 1000 }
      : undefined,
  };

  const limited = limitedLog(logger, deps.events);
  // Per VIN: a vehicle that reconnects in a loop writes 5 connect and 5 disconnect lines a
  // minute, then a count, however fast it flaps. 4,096 VINs tracked covers any flapping subset.
  const connectionLines = limitedLog(logger, deps.events, { burst: 5, maxKeys: 4096 });
  const proxy = config.tls.proxy;
  // HTTPS with mTLS, or plain HTTP behind a proxy that ended it.
  let listener: HttpServer | HttpsServer;
  /** The client certificate of a request: from the TLS session, or verified again from the proxy's header. */
  /** New handshakes (direct) or the verification pool (behind a proxy) take renewed TLS files. */
  let setTls: (m: Pick<ServerTlsMaterial, 'cert' | 'key' | 'ca'>) => void;
  let clientCert: (req: IncomingMessage) => { ok: true; cert: PeerCertificate } | { ok: false; reason: string };
  if (proxy) {
    const trusted = parseTrustedProxies(proxy.trusted_proxies);
    // The config loader refuses a bad entry; this only keeps the type honest.
    if (!trusted.ok) throw new Error(`tls.proxy.trusted_proxies[${trusted.index}]: ${trusted.reason}`);
    listener = createPlainListener(trusted.trusted, limited, deps.events);
    const pool = deps.tls.pool.certs.map((p) => new X509Certificate(p));
    clientCert = (req) => proxiedCertificate(req, proxy.client_cert_header, pool);
    // A renewed ca_file changes whom the proxied certificates are verified against.
    setTls = (m) => void pool.splice(0, pool.length, ...m.ca.map((p) => new X509Certificate(p)));
  } else {
    const https = createHttpsServer({
      cert: deps.tls.cert,
      key: deps.tls.key,
      ca: deps.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    watchHandshakes(https, limited, deps.events);
    listener = https;
    setTls = (m) => https.setSecureContext({ cert: m.cert, key: m.key, ca: m.ca, minVersion: 'TLSv1.2' });
    clientCert = (req) => ({ ok: true, cert: (req.socket as TLSSocket).getPeerCertificate() });
  }
  const mode = proxy ? 'proxy' : 'direct';
  /** Refuses an upgrade or /status whose proxied certificate is missing or does not verify. */
  const refuseProxied = (req: IncomingMessage, reason: string): string => {
    limited(
      'warn',
      `proxy_cert_refused:${reason.slice(0, 40)}`,
      { event: 'vehicle_refused', remote: req.socket.remoteAddress, forwarded_for: header(req, 'x-forwarded-for'), reason },
      `vehicle refused: ${reason}`,
    );
    return `client certificate refused: ${reason}\n`;
  };
  listener.on('request', (req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/status') {
      const c = clientCert(req);
      if (!c.ok) return void res.writeHead(403, { 'content-type': 'text/plain', 'fleet-telemetry-tls': mode }).end(refuseProxied(req, c.reason));
      res.writeHead(200, { 'content-type': 'text/plain', 'fleet-telemetry-tls': mode }).end('mtls ok');
      return;
    }
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('WebSocket upgrade required');
  });

  // Pings are answered by answerPings, not ws's auto-pong (see there).
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false, autoPong: false });
  listener.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const tlsSocket = req.socket;
    const peer = clientCert(req);
    if (!peer.ok) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${refuseProxied(req, peer.reason)}`);
      return;
    }
    const cert = peer.cert;
    const identity = vinFromCertificate(cert);
    if (!identity.ok) {
      // docs/protocol.md §1.3: a name that would need sanitising could collide with another certificate's VIN.
      const { cn, issuer } = certificateNames(cert);
      limited(
        'warn',
        `vehicle_refused:${cn}`,
        { event: 'vehicle_refused', remote: tlsSocket.remoteAddress, cn, issuer, reason: identity.reason },
        'vehicle certificate refused: its common name is not a safe VIN',
      );
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\ncertificate common name is not a valid VIN\n');
      return;
    }
    const vin = identity.vin;
    // Read before the callback: a closure naming `req` would keep the request (headers and all)
    // alive for as long as the connection's listeners live.
    const info = {
      vin,
      connectionId: connectionIdFrom(req.headers['x-txid']),
      clientVersion: header(req, 'version'),
      networkInterface: header(req, 'x-network-interface'),
    };
    const remote = tlsSocket.remoteAddress;
    // Behind a proxy the peer is the proxy; the vehicle's address is what the proxy says.
    const forwardedFor = proxy ? header(req, 'x-forwarded-for') : undefined;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new VehicleSession(info, wsAdapter(ws, socket), sessionOpts, `${keyOwner}/${++keys}`);
      sessions.add(session);
      sockets.set(session, ws);
      byKey.set(session.key, session);
      connectionLines(
        'info',
        `vehicle_connected:${vin}`,
        {
          event: 'vehicle_connected',
          vin,
          connection_id: session.info.connectionId,
          client_version: session.info.clientVersion,
          network_interface: session.info.networkInterface,
          remote,
          forwarded_for: forwardedFor,
        },
        'vehicle connected',
      );
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          ws.close(1003, 'binary frames only');
          return;
        }
        session.onMessage(toBuffer(data));
      });
      answerPings(ws);
      ws.on('error', (err) =>
        limited('info', 'vehicle_socket_error', { event: 'vehicle_socket_error', vin, reason: shortenForLog(err.message) }, 'vehicle socket error'),
      );
      ws.on('close', (code) => {
        sockets.delete(session);
        void session.onClose().finally(() => {
          sessions.delete(session);
          byKey.delete(session.key);
          connectionLines(
            'info',
            `vehicle_disconnected:${vin}`,
            {
              event: 'vehicle_disconnected',
              vin,
              connection_id: session.info.connectionId,
              code,
              duration_s: (Date.now() - session.connectedAt) / 1000,
              frames: session.frames,
              fields: session.fields,
            },
            'vehicle disconnected',
          );
        });
      });
      void session.start();
    });
  });

  const port = await listen(listener, config.port, config.host).catch((err) => {
    throw bindError(err, 'port', config.host, config.port);
  });
  let stopping = false;
  let status: StatusServer | undefined;
  if (config.status_port !== undefined) {
    status = await startStatusServer({ host: config.host, port: config.status_port, readiness: deps.readiness, stopping: () => stopping }).catch((err) => {
      listener.close();
      throw err;
    });
  }
  const statusPort = status?.port;

  return {
    port,
    statusPort,
    sessions,
    closeIfIdle(key, since) {
      const session = byKey.get(key);
      const ws = session && sockets.get(session);
      if (!session || !ws) return 'gone';
      if (session.lastFrameAt >= since) return 'active';
      const vin = session.info.vin;
      // Limited per VIN like connect lines: a vehicle must not control the log volume.
      connectionLines(
        'info',
        `older_connection_closed:${vin}`,
        {
          event: 'older_connection_closed',
          vin,
          connection_id: session.info.connectionId,
          code: SUPERSEDED_CLOSE.code,
          idle_s: (Date.now() - Math.max(session.lastFrameAt, session.connectedAt)) / 1000,
        },
        'older connection of the vehicle closed: a newer one took over',
      );
      deps.events.olderConnectionClosed();
      ws.close(SUPERSEDED_CLOSE.code, SUPERSEDED_CLOSE.reason);
      // A dead peer never answers the close handshake: cut it, or presence would wait for TCP.
      setTimeout(() => ws.terminate(), 2000).unref();
      return 'closed';
    },
    setTls: (m) => setTls(m),
    async shutdown(timeoutMs) {
      stopping = true;
      listener.close();
      status?.close();
      const drained = Promise.all([...sessions].map((s) => s.drain()));
      await Promise.race([drained, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      for (const ws of sockets.values()) ws.close(1001, 'server shutting down');
      // The close handshake needs a moment; sockets left after it are cut.
      await Promise.race([
        Promise.all([...sockets.values()].map((ws) => new Promise((r) => ws.once('close', r)))),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      for (const ws of sockets.values()) ws.terminate();
      listener.closeAllConnections();
      // Give DISCONNECTED connectivity records their chance to go out.
      await Promise.race([
        new Promise<void>((r) => {
          const check = () => (sessions.size === 0 ? r() : setTimeout(check, 20));
          check();
        }),
        new Promise((r) => setTimeout(r, timeoutMs).unref()),
      ]);
    },
  };
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * ws's auto-pong ends a connection once 60 pongs await their write, which one read of 100 pings
 * reaches. RFC 6455 §5.5.3 lets an endpoint answer only the latest of the pings it has not yet
 * answered, so a burst costs one pong per event-loop turn: bounded, and the vehicle stays.
 */
function answerPings(ws: WebSocket): void {
  let latest: Buffer | undefined;
  ws.on('ping', (data: Buffer) => {
    const scheduled = latest !== undefined;
    latest = data;
    if (scheduled) return;
    setImmediate(() => {
      const payload = latest!;
      latest = undefined;
      if (ws.readyState === ws.OPEN) ws.pong(payload);
    });
  });
}

function wsAdapter(ws: WebSocket, raw: Duplex): VehicleSocket {
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  return {
    send: (data) => {
      if (ws.readyState !== ws.OPEN) return;
      // Acks settled in one event-loop turn leave in one TLS write instead of one each: writev was
      // the largest single item (10%) of the server's profile under load.
      if (!corked) {
        corked = true;
        raw.cork();
        setImmediate(uncork);
      }
      ws.send(data, { binary: true });
    },
    close: (code, reason) => ws.close(code, reason),
    pause: () => ws.pause(),
    resume: () => ws.resume(),
  };
}
