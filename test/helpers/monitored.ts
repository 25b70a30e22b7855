import { makePki, type TestPki } from './pki.js';
import { startServer, type ServerProcess } from './server.js';

export const monitoringPort = (s: ServerProcess) => s.waitForLog((l) => l.event === 'monitoring_listening').then((l) => l.port as number);

/**
 * The real server on the embedded broker with its monitoring port on a free port, connected to
 * the broker; `extra` overrides config keys. The caller stops it.
 */
export async function startMonitored(dir: string, extra: Record<string, unknown> = {}): Promise<{ pki: TestPki; server: ServerProcess; port: number }> {
  const pki = await makePki(dir);
  const server = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0, qos: 1 },
    monitoring: { prometheus_metrics_port: 0 },
    ...extra,
  });
  try {
    const port = await monitoringPort(server);
    await server.waitForLog((l) => l.event === 'mqtt_connected');
    return { pki, server, port };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
