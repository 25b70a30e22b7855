import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { FleetTelemetryError } from '../../errors.js';

export interface BrokerTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Name the broker's certificate must cover; default the URL's host. */
  serverName?: string;
  /** base64 SHA-256 of the broker's SubjectPublicKeyInfo; a mismatch refuses the connection. */
  pinSha256?: string;
}

export interface BrokerEndpoint {
  host: string;
  port: number;
  secure: boolean;
  tls: BrokerTls;
}

/** "host:port", mqtt://host:port or mqtts://host:port → where to connect. */
export function parseBrokerUrl(url: string, tls: BrokerTls): BrokerEndpoint {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `mqtt://${url}`;
  const u = new URL(withScheme);
  const secure = u.protocol === 'mqtts:' || u.protocol === 'ssl:' || u.protocol === 'tls:';
  if (!secure && u.protocol !== 'mqtt:' && u.protocol !== 'tcp:') {
    throw new Error(`unsupported broker URL scheme ${u.protocol} (use mqtt:// or mqtts://)`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port ? Number(u.port) : secure ? 8883 : 1883, secure, tls };
}

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo (the usual public-key pin). */
function spkiPin(cert: PeerCertificate): string {
  const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export class PinMismatch extends FleetTelemetryError {
  constructor(readonly seen: string) {
    super('pin_mismatch', `broker public key pin mismatch (seen sha256/${seen})`);
  }
}

/** Opens the TCP or TLS connection; `onConnect` fires once the socket (and handshake) is up. */
export function openSocket(ep: BrokerEndpoint, onConnect: () => void): Socket {
  if (!ep.secure) {
    const s = netConnect({ host: ep.host, port: ep.port }, onConnect);
    s.setNoDelay(true);
    return s;
  }
  const t = ep.tls;
  const servername = t.serverName ?? ep.host;
  const s = tlsConnect(
    {
      host: ep.host,
      port: ep.port,
      servername: /^[\d.:]+$/.test(servername) ? undefined : servername,
      ca: t.caFile ? readFileSync(t.caFile) : undefined,
      cert: t.certFile ? readFileSync(t.certFile) : undefined,
      key: t.keyFile ? readFileSync(t.keyFile) : undefined,
      minVersion: 'TLSv1.2',
      checkServerIdentity: (_host, cert) => {
        const err = checkServerIdentity(servername, cert);
        if (err) return err;
        if (t.pinSha256) {
          const seen = spkiPin(cert);
          if (seen !== t.pinSha256.replace(/^sha256\//, '')) return new PinMismatch(seen);
        }
        return undefined;
      },
    },
    onConnect,
  );
  s.setNoDelay(true);
  return s;
}
