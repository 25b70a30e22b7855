/**
 * `check-config --online` beside a running server: a port in use is no fault when what holds it
 * answers as the server of this very config. Each probe looks for what only that server says.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:tls';
import type { Config } from '../../config/types.js';
import { configPath } from '../../config/load.js';
import { METRIC_PREFIX } from '../../ops/metric-labels.js';
import { probeBroker } from './broker.js';
import type { Listener } from './online.js';

/** No probe waits longer: a port that does not answer by then is someone else's. */
const PROBE_MS = 3_000;

/** How the listener shows it is this config's server (evidence for the ok line), or undefined. */
export async function answersAsThisServer(l: Listener, config: Config, vehiclePortIsOurs: boolean): Promise<string | undefined> {
  const host = l.host === '' || l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
  switch (l.key) {
    case 'port':
      return (await presentsServerCert(host, l.port, config)) ? 'it presents tls.server_cert' : undefined;
    case 'status_port': {
      const status = await httpGet(host, l.port, '/status');
      const ready = await httpGet(host, l.port, '/readyz');
      const ok = status?.status === 200 && status.body === 'ok' && ready !== undefined && /^(ready|not ready: )/.test(ready.body);
      return ok ? 'it answers /status and /readyz' : undefined;
    }
    case 'monitoring.prometheus_metrics_port': {
      const m = await httpGet(host, l.port, '/metrics');
      return m?.status === 200 && m.body.includes(`# TYPE ${METRIC_PREFIX}`) ? `its /metrics are ${METRIC_PREFIX}*` : undefined;
    }
    case 'mqtt.embedded_port': {
      // An MQTT broker cannot tell whose it is: it counts as ours when the vehicle port is ours.
      if (!vehiclePortIsOurs) return undefined;
      const r = await probeBroker(
        { host, port: l.port, secure: false, tls: {} },
        {
          clientId: `fleet-telemetry-check-${process.pid}`,
          keepAliveSeconds: 10,
          timeoutMs: PROBE_MS,
        },
      );
      return r.outcome === 'accepted' ? 'it accepts MQTT and the vehicle port is this server' : undefined;
    }
    default:
      return undefined;
  }
}

/** A TLS handshake (no client certificate) whose server certificate is the first of tls.server_cert. */
function presentsServerCert(host: string, port: number, config: Config): Promise<boolean> {
  let expected: string;
  try {
    expected = new X509Certificate(readFileSync(configPath(config, config.tls.server_cert))).fingerprint256;
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const s = connect({ host, port, rejectUnauthorized: false, timeout: PROBE_MS });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    // TLS 1.3 completes on the client side before the server asks for a certificate it will refuse.
    s.once('secureConnect', () => done(s.getPeerCertificate().fingerprint256 === expected));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

function httpGet(host: string, port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: PROBE_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        // /metrics can be large: the first type line is near its start.
        if (body.length > 256 * 1024) res.destroy();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', () => resolve(undefined));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}
