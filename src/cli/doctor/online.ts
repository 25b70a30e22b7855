/**
 * `check-config --online`: what `serve` would meet on this machine and network, checked without
 * starting it: each listener's port can be bound, `host` resolves, the broker accepts the
 * configured credentials. One ok / warn / fail line each, in the format of the offline checks.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import type { Config } from '../../config/types.js';
import { brokerTlsFrom, brokerUrl, clientIdFrom } from '../../producers/mqtt/options.js';
import { parseBrokerUrl, type BrokerEndpoint } from '../../producers/mqtt/transport.js';
import { shownPath, unreadableNote, type CheckLine } from '../../tls/check.js';
import { probeBroker } from './broker.js';
import { dispatchChecks } from './dispatch.js';
import { answersAsThisServer } from './running.js';
import { loadPluginFactory } from '../../producers/plugin.js';
import { unreadableReason } from '../../unreadable.js';

/** The broker check waits no longer than this, whatever mqtt.connect_timeout_ms says. */
const BROKER_CHECK_CAP_MS = 10_000;

/** A listener serve opens: the config key that sets its port, and where it binds. */
export interface Listener {
  key: string;
  host: string;
  port: number;
}

const usesMqtt = (config: Config) => Object.values(config.records).some((names) => names?.includes('mqtt'));

/** Every listener serve would open with this config, in start order. */
function listenersOf(config: Config): Listener[] {
  const out: Listener[] = [{ key: 'port', host: config.host, port: config.port }];
  if (config.status_port !== undefined) out.push({ key: 'status_port', host: config.host, port: config.status_port });
  const metrics = config.monitoring.prometheus_metrics_port;
  if (metrics) out.push({ key: 'monitoring.prometheus_metrics_port', host: config.monitoring.host, port: metrics });
  if (config.tesla.public_key_port !== undefined) out.push({ key: 'tesla.public_key_port', host: config.host, port: config.tesla.public_key_port });
  if (config.mqtt.broker === 'embedded' && usesMqtt(config)) {
    out.push({ key: 'mqtt.embedded_port', host: config.mqtt.embedded_host, port: config.mqtt.embedded_port });
  }
  return out;
}

const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** Binds the port on its host and releases it at once. */
function tryBind(l: Listener): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err) => resolve(err));
    s.listen({ port: l.port, host: l.host, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/**
 * The port can be bound, or is held by this config's server already running (`running` says how
 * it answered): README step 3 runs this check beside the server.
 */
async function portCheck(l: Listener, running?: (l: Listener) => Promise<string | undefined>): Promise<CheckLine> {
  const where = `${hostPort(l.host, l.port)} (${l.key})`;
  const err = await tryBind(l);
  if (!err) {
    return { status: 'ok', check: 'port', message: l.port === 0 ? `${where} takes any free port; ${l.host} can be bound` : `${where} is free` };
  }
  const evidence = err.code === 'EADDRINUSE' && running ? await running(l) : undefined;
  if (evidence) return { status: 'ok', check: 'port', message: `${where} is in use by this server, already running (${evidence})` };
  let why: string;
  switch (err.code) {
    case 'EADDRINUSE':
      why = 'is in use by another process';
      if (l.key === 'mqtt.embedded_port') {
        why +=
          ', often another MQTT broker (mosquitto, Home Assistant): to publish to it instead, set "mqtt": {"broker": ' +
          `"${hostPort(l.host === '0.0.0.0' || l.host === '' ? '127.0.0.1' : l.host, l.port)}"}; or choose another mqtt.embedded_port`;
      } else why += `; stop it or choose another ${l.key}`;
      break;
    case 'EACCES':
      why = `cannot be bound by this user (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE`;
      break;
    case 'EADDRNOTAVAIL':
      why = `cannot be bound: ${l.host} is not an address of this machine (EADDRNOTAVAIL)`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      why = `cannot be bound: the host ${l.host} does not resolve (${err.code})`;
      break;
    default:
      why = `cannot be bound: ${err.message}`;
  }
  return { status: 'fail', check: 'port', message: `${where} ${why}` };
}

/** `host` names an address of this machine; a name must resolve. */
async function hostCheck(config: Config): Promise<CheckLine> {
  const h = config.host;
  if (h === '' || h === '0.0.0.0' || h === '::') return { status: 'ok', check: 'host', message: `${h || '""'} (host) listens on every interface` };
  if (isIP(h)) return { status: 'ok', check: 'host', message: `${h} (host) is an IP address` };
  try {
    const addrs = await lookup(h, { all: true });
    return { status: 'ok', check: 'host', message: `${h} (host) resolves to ${addrs.map((a) => a.address).join(', ')}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      status: 'fail',
      check: 'host',
      message: `${h} (host) does not resolve${code ? ` (${code})` : ''}; use an address of this machine, or 0.0.0.0 for every interface`,
    };
  }
}

/** mqtt.tls files, read as the producer reads them; nothing to do for a plain mqtt:// broker. */
export function brokerTlsFileChecks(config: Config): CheckLine[] {
  const t = config.mqtt.tls;
  if (!t || config.mqtt.broker === 'embedded' || !/^(mqtts|ssl|tls):\/\//i.test(config.mqtt.broker)) return [];
  const lines: CheckLine[] = [];
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const written = t[key];
    if (!written) continue;
    try {
      readFileSync(brokerTlsFrom(config)[key === 'ca_file' ? 'caFile' : key === 'cert_file' ? 'certFile' : 'keyFile']!);
      lines.push({ status: 'ok', check: 'mqtt.tls', message: `${key} ${shownPath(config, written)} is readable` });
    } catch (err) {
      lines.push({ status: 'fail', check: 'mqtt.tls', message: `${key} ${written}: cannot read: ${unreadableReason(err)}${unreadableNote(config, written)}` });
    }
  }
  if (t.cert_file && !t.key_file)
    lines.push({ status: 'fail', check: 'mqtt.tls', message: 'cert_file is set without key_file; a client certificate needs its key' });
  return lines;
}

/** One CONNECT with the server's credentials, TLS options and a client id of its own. */
async function brokerCheck(config: Config): Promise<CheckLine> {
  if (!usesMqtt(config)) return { status: 'ok', check: 'broker', message: 'not checked: no record type routes to mqtt' };
  if (config.mqtt.broker === 'embedded') {
    return { status: 'ok', check: 'broker', message: 'embedded: serve starts it (its port is checked above)' };
  }
  const url = brokerUrl(config);
  let ep: BrokerEndpoint;
  try {
    ep = parseBrokerUrl(url, brokerTlsFrom(config));
  } catch (err) {
    return { status: 'fail', check: 'broker', message: `${url}: ${(err as Error).message}` };
  }
  const clientId = `${clientIdFrom(config)}-check`;
  const timeoutMs = Math.min(config.mqtt.connect_timeout_ms, BROKER_CHECK_CAP_MS);
  const who = config.mqtt.username !== undefined ? `as user ${JSON.stringify(config.mqtt.username)}` : 'without a user name';
  const r = await probeBroker(ep, {
    clientId,
    username: config.mqtt.username,
    password: config.mqtt.password,
    keepAliveSeconds: config.mqtt.keep_alive_seconds,
    timeoutMs,
  });
  const at = `${url} (mqtt.broker)`;
  if (r.outcome === 'accepted') return { status: 'ok', check: 'broker', message: `${at} accepted the connection ${who} (client id ${clientId})` };
  if (r.outcome === 'refused') {
    const hint =
      r.code === 4 || r.code === 134
        ? '; check mqtt.username and mqtt.password (or FLEET_TELEMETRY_MQTT_USERNAME / FLEET_TELEMETRY_MQTT_PASSWORD)'
        : (r.code === 5 || r.code === 135) && config.mqtt.username === undefined
          ? '; the broker wants credentials: set mqtt.username and mqtt.password'
          : r.code === 5 || r.code === 135
            ? "; mosquitto answers this for a wrong password too: check mqtt.username and mqtt.password, then the broker's ACL"
            : '';
    return { status: 'fail', check: 'broker', message: `${at} refused the connection ${who}: ${r.reason} (CONNACK code ${r.code})${hint}` };
  }
  return { status: 'fail', check: 'broker', message: `${at} is unreachable: ${r.reason}` };
}

/** Every online check, in the order they print: host, ports, broker, kafka, kinesis. */
export async function onlineChecks(config: Config): Promise<CheckLine[]> {
  const lines: CheckLine[] = [await hostCheck(config)];
  // One at a time: two listeners sharing a port were refused by the config already. The vehicle
  // port comes first; whether it is this server's decides about the embedded broker's.
  let vehiclePortIsOurs = false;
  const running = async (held: Listener) => {
    const evidence = await answersAsThisServer(held, config, vehiclePortIsOurs);
    if (held.key === 'port' && evidence) vehiclePortIsOurs = true;
    return evidence;
  };
  for (const l of listenersOf(config)) lines.push(await portCheck(l, running));
  lines.push(await brokerCheck(config));
  lines.push(...(await dispatchChecks(config)));
  // Imported here: their client libraries made every check-config start 0.3 s slower.
  lines.push(...(await (await import('./kafka.js')).kafkaCheck(config, BROKER_CHECK_CAP_MS)));
  lines.push(...(await (await import('./kinesis.js')).kinesisCheck(config, BROKER_CHECK_CAP_MS)));
  return lines;
}

/** How long one plugin module may take to import before check-config gives up on it. */
const PLUGIN_LOAD_CAP_MS = 10_000;

/**
 * Each plugin the config declares, imported as serve imports it at start; its factory is not
 * called, so nothing starts. A wrong path, a package that is not installed or a module without a
 * factory fails here rather than when the server starts.
 */
export async function pluginChecks(config: Config): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  for (const [name, spec] of Object.entries(config.producers)) {
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${spec.module} did not finish loading within ${PLUGIN_LOAD_CAP_MS / 1000} s`)), PLUGIN_LOAD_CAP_MS);
    });
    try {
      await Promise.race([loadPluginFactory(spec.module, config.baseDir), slow]);
      lines.push({ status: 'ok', check: 'plugin', message: `producers.${name}: ${spec.module} loads and exports a factory` });
    } catch (err) {
      lines.push({ status: 'fail', check: 'plugin', message: `producers.${name}: ${(err as Error).message}` });
    } finally {
      clearTimeout(timer);
    }
  }
  return lines;
}
