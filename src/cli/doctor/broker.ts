/**
 * One MQTT connection attempt, as the server's producer makes it (same transport, same CONNECT),
 * for `check-config --online`: CONNECT, wait for CONNACK, DISCONNECT. Answers in words.
 */
import type { Socket } from 'node:net';
import { readConnack } from '../../producers/mqtt/control-packets.js';
import { connackReason, DISCONNECT, encodeConnect, PacketReader, PacketType } from '../../producers/mqtt/packets.js';

export { connackReason };
import { openSocket, PinMismatch, type BrokerEndpoint } from '../../producers/mqtt/transport.js';

export type ProbeResult = { outcome: 'accepted' } | { outcome: 'refused'; code: number; reason: string } | { outcome: 'unreachable'; reason: string };

export interface ProbeOptions {
  clientId: string;
  username?: string;
  password?: string;
  keepAliveSeconds: number;
  timeoutMs: number;
}

/** Why a socket failed, in words an operator acts on. */
export function socketErrorText(err: NodeJS.ErrnoException, ep: { host: string; port: number; secure?: boolean }): string {
  const at = `${ep.host}:${ep.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused (ECONNREFUSED): nothing listens on ${at}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host ${ep.host} does not resolve (${err.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${at} (${err.code})`;
    case 'ECONNRESET':
      return `the connection was reset (ECONNRESET)${ep.secure ? `: does ${at} speak TLS? mqtts:// needs a TLS listener` : ''}`;
    case 'ETIMEDOUT':
      return `the connection timed out (ETIMEDOUT)`;
    default: {
      if (err instanceof PinMismatch) return `TLS: ${err.message}`;
      // TLS errors carry their own words ("self-signed certificate", "Hostname/IP does not match ...").
      const text = err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
      if (!ep.secure) return text;
      const untrusted = /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/.test(err.code ?? '');
      return `TLS handshake failed: ${text}${untrusted ? "; set mqtt.tls.ca_file to the CA that issued the broker's certificate" : ''}`;
    }
  }
}

/** Connects, sends CONNECT, waits for CONNACK, sends DISCONNECT. Never throws. */
export function probeBroker(ep: BrokerEndpoint, o: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let socket: Socket | undefined;
    let connected = false;
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (socket) {
        socket.removeAllListeners('data');
        socket.on('error', () => {});
        if (r.outcome === 'accepted') socket.end(DISCONNECT);
        else socket.destroy();
      }
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish({
        outcome: 'unreachable',
        reason: connected
          ? `no CONNACK within ${o.timeoutMs} ms: the broker took the connection but did not answer CONNECT`
          : `no connection within ${o.timeoutMs} ms (timeout)${ep.secure ? ', or the TLS handshake did not finish' : ''}`,
      });
    }, o.timeoutMs);
    const reader = new PacketReader((type, buf, start, length, flags) => {
      if (type !== PacketType.CONNACK) return;
      let rc = 255;
      try {
        rc = readConnack(flags, buf.subarray(start, start + length));
      } catch {
        // A malformed CONNACK: refused for an unknown reason.
      }
      finish(rc === 0 ? { outcome: 'accepted' } : { outcome: 'refused', code: rc, reason: connackReason(rc) });
    });
    try {
      socket = openSocket(ep, () => {
        connected = true;
        socket!.write(
          encodeConnect({ clientId: o.clientId, keepAliveSeconds: o.keepAliveSeconds, cleanSession: true, username: o.username, password: o.password }),
        );
      });
    } catch (err) {
      // The TLS files are read while opening.
      finish({ outcome: 'unreachable', reason: `cannot read a mqtt.tls file: ${(err as Error).message}` });
      return;
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        finish({ outcome: 'unreachable', reason: `not an MQTT answer: ${(err as Error).message}` });
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: 'unreachable', reason: socketErrorText(err, ep) }));
    socket.on('close', () =>
      finish({
        outcome: 'unreachable',
        reason: connected
          ? 'the broker closed the connection without answering CONNECT (is it an MQTT broker? does it want TLS, mqtts://?)'
          : 'the connection closed',
      }),
    );
  });
}
