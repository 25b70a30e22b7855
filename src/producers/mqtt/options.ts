import { configPath } from '../../config/load.js';
import type { BrokerTls } from './transport.js';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config, KindSettings } from '../../config/types.js';
import type { PlanOptions, PublishKindSettings } from '../../publish/plan.js';

/** Per-kind QoS/retain, each falling back to the global mqtt.qos / mqtt.retained. */
export function planOptionsFrom(config: Config): PlanOptions {
  const m = config.mqtt;
  const kind = (k?: KindSettings): PublishKindSettings => ({ qos: k?.qos ?? m.qos, retain: k?.retained ?? m.retained });
  return {
    topicBase: m.topic_base,
    payloadFormat: m.payload_format,
    v: kind(m.v),
    alertsCurrent: kind(m.alerts_current),
    alertsHistory: kind(m.alerts_history),
    errors: kind(m.errors),
    connectivity: kind(m.connectivity),
  };
}

/**
 * The default is stable across restarts of one installation (a new id per restart left a retained
 * `offline` status behind each time) and still differs between instances on one host: it hashes
 * the config file's folder and the vehicle address, which no two running instances share.
 */
export function clientIdFrom(config: Config, host = hostname()): string {
  if (config.mqtt.client_id !== undefined) return config.mqtt.client_id;
  // Port 0 (a free port each start) names no installation: the process does.
  const instance = config.port === 0 ? `pid ${process.pid}` : `${config.host}\n${config.port}`;
  const digest = createHash('sha256').update(`${config.baseDir}\n${instance}`).digest('hex').slice(0, 8);
  const name = host.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'host';
  return `fleet-telemetry-${name}-${digest}`;
}

/** "host:port" (Tesla's form), a URL, or "embedded" → a URL mqtt.js connects to. */
export function brokerUrl(config: Config): string {
  const b = config.mqtt.broker;
  if (b === 'embedded') {
    const h = config.mqtt.embedded_host;
    const host = h === '0.0.0.0' || h === '' ? '127.0.0.1' : h;
    return `mqtt://${host.includes(':') ? `[${host}]` : host}:${config.mqtt.embedded_port}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(b)) return b;
  return `mqtt://${b}`;
}

/** mqtt.tls paths resolve against the config file's directory. */
export function brokerTlsFrom(config: Config): BrokerTls {
  const t = config.mqtt.tls ?? {};
  const p = (f?: string) => (f ? configPath(config, f) : undefined);
  return { caFile: p(t.ca_file), certFile: p(t.cert_file), keyFile: p(t.key_file), serverName: t.server_name, pinSha256: t.pin_sha256 };
}

/**
 * The longest wait between connection attempts. connect_retry_interval_ms has Tesla's meaning
 * (the longest wait); connect_retry_max_interval_ms caps it too, so the smaller one wins. A
 * floor keeps a tiny setting from spinning on a refused port.
 */
export function retryMaxMsFrom(config: Config): number {
  const m = config.mqtt;
  return Math.max(50, Math.min(m.connect_retry_interval_ms, m.connect_retry_max_interval_ms));
}
