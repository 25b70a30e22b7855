import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv } from 'ajv';
import {
  BUILTIN_PRODUCERS,
  configSchema,
  CONFIGURED_PRODUCERS,
  MQTT_PASSWORD_ENV,
  MQTT_USERNAME_ENV,
  REFUSED_PRODUCERS,
  SCHEMA_ANNOTATIONS,
} from './schema.js';
import { closest, ConfigError, dottedPath, pointerPart, type ConfigProblem } from './errors.js';
import { describeError, schemaAt, type SchemaNode } from './describe.js';
import { scanJson } from './json.js';
import type { Config } from './types.js';
import { broadEntries, parseTrustedProxies } from './trusted-proxies.js';
import { unreadableReason } from '../unreadable.js';

export { BUILTIN_PRODUCERS };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
ajv.addVocabulary(SCHEMA_ANNOTATIONS);
const validate = ajv.compile(configSchema);

/** Syntax problems with line and column; the value itself from JSON.parse. */
function parseJson(text: string): { value?: unknown; problem?: ConfigProblem; duplicates: string[] } {
  const scan = scanJson(text);
  if (scan.error) {
    const { line, column, inside, reason } = scan.error;
    return {
      duplicates: [],
      problem: { code: 'json_syntax', path: '', message: `not valid JSON at line ${line}, column ${column}${inside ? ` (inside ${inside})` : ''}: ${reason}` },
    };
  }
  try {
    return { value: JSON.parse(text), duplicates: scan.duplicates };
  } catch (err) {
    // The scanner and JSON.parse agree on JSON; this is a safety net only.
    return { duplicates: [], problem: { code: 'json_syntax', path: '', message: `not valid JSON: ${(err as Error).message}` } };
  }
}

const REF = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `${NAME}` in any string value becomes that environment variable (`$${NAME}` stays literal),
 * except inside Tesla keys this server does not use.
 * A value that is nothing but one reference takes the key's type, so `"port": "${PORT}"` works.
 */
function substituteEnv(value: unknown, path: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): unknown {
  // Blocks this server does not use stay as written: a variable they name need not exist.
  if (path && schemaAt(path)?.['x-unused']) return value;
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    let missing = false;
    const out = value.replace(REF, (whole, escaped: string, name: string) => {
      if (escaped) return whole.slice(1);
      const v = env[name];
      if (v === undefined) {
        missing = true;
        problems.push({ code: 'env_missing', path, message: `environment variable ${name} is not set (referenced as \${${name}})` });
        return '';
      }
      return v;
    });
    if (missing) return value;
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(value);
    if (whole) return coerce(out, schemaAt(path));
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, `${path}/${i}`, env, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, `${path}/${pointerPart(k)}`, env, problems)]));
  }
  return value;
}

/** An environment string in the type the schema wants; left as is when it does not convert. */
function coerce(s: string, node: SchemaNode | undefined): unknown {
  const t = s.trim();
  if ((node?.type === 'integer' || node?.type === 'number') && t !== '' && !Number.isNaN(Number(t))) return Number(t);
  if (node?.type === 'boolean' && (t === 'true' || t === 'false')) return t === 'true';
  return s;
}

/** Keys present that the schema marks as accepted but unused (dotted paths, document order). */
function unusedKeys(value: unknown, node: SchemaNode, prefix = ''): string[] {
  const out: string[] = [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const child = node.properties?.[k];
    if (!child) continue;
    const p = prefix ? `${prefix}.${k}` : k;
    if (child['x-unused']) out.push(p);
    else out.push(...unusedKeys(v, child, p));
  }
  return out;
}

/** Checks that need the whole validated config: producers, ports, the client-CA pool. */
function checkMeaning(cfg: Config, problems: ConfigProblem[], warnings: string[]): void {
  const plugins = Object.keys(cfg.producers);
  const known = [...BUILTIN_PRODUCERS.filter((p) => !(p in REFUSED_PRODUCERS)), ...plugins];
  const unshipped = new Map<string, string[]>();
  const used = new Set<string>();
  const routes = new Map<string, string[]>();
  for (const [type, names] of Object.entries(cfg.records)) {
    for (const [i, name] of (names ?? []).entries()) {
      used.add(name);
      routes.set(name, [...(routes.get(name) ?? []), type]);
      if (plugins.includes(name)) continue;
      if (Object.prototype.hasOwnProperty.call(REFUSED_PRODUCERS, name)) {
        unshipped.set(name, [...(unshipped.get(name) ?? []), type]);
        continue;
      }
      if (known.includes(name)) continue;
      const hint = closest(name, known);
      problems.push({
        code: 'unknown_producer',
        path: `/records/${pointerPart(type)}/${i}`,
        message: `producer "${name}" does not exist${hint ? `; did you mean "${hint}"?` : ''} (known: ${known.join(', ')})`,
      });
    }
  }
  for (const [name, types] of unshipped) {
    problems.push({
      code: 'unsupported_producer',
      path: '/records',
      message:
        `producer "${name}" (used by ${types.join(', ')}) is one of Tesla's and is refused here: ${REFUSED_PRODUCERS[name]}; ` +
        `route ${types.length > 1 ? 'these record types' : types[0]} to another producer or a plugin declared under producers`,
    });
  }
  checkTeslaProducers(cfg, routes, plugins, problems);
  if (used.size === 0) warnings.push('records routes no record type: every record is acked and nothing is published');
  for (const name of Object.keys(cfg.producers)) {
    if (!used.has(name)) warnings.push(`producers.${name} is declared but no record type uses it`);
  }
  if (cfg.mqtt.tls && !/^(mqtts|ssl|tls):\/\//i.test(cfg.mqtt.broker)) {
    warnings.push(`mqtt.tls is set but mqtt.broker (${cfg.mqtt.broker}) is not an mqtts:// URL, so it is not used`);
  }
  // Two listeners on one port fail at start with EADDRINUSE; say which keys collide instead.
  const ports: [string, number | undefined][] = [
    ['/port', cfg.port],
    ['/status_port', cfg.status_port],
    ['/monitoring/prometheus_metrics_port', cfg.monitoring.prometheus_metrics_port],
    ['/mqtt/embedded_port', cfg.mqtt.broker === 'embedded' ? cfg.mqtt.embedded_port : undefined],
    ['/tesla/public_key_port', cfg.tesla.public_key_port],
  ];
  for (const [i, [path, n]] of ports.entries()) {
    const first = ports.findIndex(([, m]) => m === n);
    if (n && first < i) {
      problems.push({ code: 'port_conflict', path, message: `${n} is already ${dottedPath(ports[first][0])}; each listener needs its own port` });
    }
  }
  if (cfg.tls.proxy) {
    const trusted = parseTrustedProxies(cfg.tls.proxy.trusted_proxies);
    if (!trusted.ok) problems.push({ code: 'invalid_proxy_address', path: `/tls/proxy/trusted_proxies/${trusted.index}`, message: trusted.reason });
    const broad = broadEntries(cfg.tls.proxy.trusted_proxies);
    if (broad.length) {
      warnings.push(
        `tls.proxy.trusted_proxies holds ${broad.join(', ')}: every host there can present any vehicle's certificate (certificates are not secret) and be taken for that vehicle; list only the proxies' own addresses`,
      );
    }
  }
  if (cfg.tesla.public_key_port !== undefined && !cfg.tesla.private_key) {
    problems.push({
      code: 'private_key_required',
      path: '/tesla/private_key',
      message:
        'required when tesla.public_key_port is set (the page serves its public key); allowed: a path to a P-256 private key (fleet-telemetry tesla keys makes one)',
    });
  }
  if (!cfg.tls.trust_tesla_ca && !cfg.tls.ca_file) {
    problems.push({
      code: 'ca_required',
      path: '/tls/ca_file',
      message: 'required when tls.trust_tesla_ca is false (otherwise no client could connect); allowed: a path to a PEM file of CA certificates',
    });
  }
}

/**
 * Tesla's producers fail at start in Tesla's server when routed without their block or a key
 * they need; here that is a config error, found before anything starts.
 */
function checkTeslaProducers(cfg: Config, routes: Map<string, string[]>, plugins: string[], problems: ConfigProblem[]): void {
  for (const name of CONFIGURED_PRODUCERS) {
    const types = routes.get(name);
    if (!types || plugins.includes(name) || name in REFUSED_PRODUCERS) continue;
    const usedBy = `records route ${types.join(', ')} to ${name}`;
    const block = cfg[name] as Record<string, unknown> | undefined;
    if (!block) {
      problems.push({ code: 'producer_not_configured', path: `/${name}`, message: `required: ${usedBy}` });
      continue;
    }
    if (name === 'redis') {
      const r = cfg.redis!;
      if (!r.addrs?.length)
        problems.push({ code: 'producer_not_configured', path: '/redis/addrs', message: `required (${usedBy}); allowed: a non-empty list of "host:port"` });
      if (!r.publish_vin_topics && !r.subscriber_set_prefix) {
        problems.push({
          code: 'producer_not_configured',
          path: '/redis/publish_vin_topics',
          message: `publish_vin_topics or subscriber_set_prefix must be set (${usedBy}), otherwise no record is published`,
        });
      }
    }
    if (name === 'zmq' && !cfg.zmq!.addr)
      problems.push({ code: 'producer_not_configured', path: '/zmq/addr', message: `required (${usedBy}); allowed: an endpoint such as "tcp://*:5284"` });
    // Every worker makes its own producers; only one process can bind the endpoint.
    if (name === 'zmq' && cfg.workers !== 1) {
      problems.push({
        code: 'producer_not_configured',
        path: '/workers',
        message: `must be 1 while ${usedBy}: its PUB socket binds zmq.addr, which only one process can`,
      });
    }
    if (name === 'kafka' && !('bootstrap.servers' in block) && !('metadata.broker.list' in block)) {
      problems.push({ code: 'producer_not_configured', path: '/kafka/bootstrap.servers', message: `required (${usedBy}); allowed: "host:port[,host:port…]"` });
    }
  }
}

/** Blocks of Tesla producers shipped here that no record type routes to: accepted, named in the warning. */
function unroutedBlocks(cfg: Config): string[] {
  const used = new Set(Object.values(cfg.records).flat());
  return CONFIGURED_PRODUCERS.filter((name) => cfg[name] !== undefined && !used.has(name));
}

/** One line per value: ajv reports a bad value once per failed keyword. */
function onePerPath(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.code === 'unknown_key' || p.code === 'missing_key' ? p.code : ''}|${p.path}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Parses and validates a config text; throws ConfigError listing every problem, one line each.
 * Credentials may come from FLEET_TELEMETRY_MQTT_USERNAME / FLEET_TELEMETRY_MQTT_PASSWORD; any
 * string may reference `${NAME}`.
 */
export function parseConfig(text: string, file = 'config', env: NodeJS.ProcessEnv = process.env): Config {
  // Editors on Windows may save a byte-order mark; it is not part of the JSON.
  const parsed = parseJson(text.replace(/^\uFEFF/, ''));
  if (parsed.problem) throw new ConfigError(file, [parsed.problem]);
  if (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) {
    throw new ConfigError(file, [
      { code: 'invalid_type', path: '', message: `the file holds ${JSON.stringify(parsed.value)?.slice(0, 40)}; allowed: a JSON object ({ ... })` },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const warnings = parsed.duplicates.map((p) => `${dottedPath(p)} appears more than once; the last value is used`);
  const data = substituteEnv(parsed.value, '', env, problems) as Record<string, unknown>;
  // Credentials may come from the environment instead of the file; the file wins when it sets them.
  if (data.mqtt === undefined) data.mqtt = {};
  const mqtt = data.mqtt as Record<string, unknown>;
  if (mqtt && typeof mqtt === 'object' && !Array.isArray(mqtt)) {
    if (mqtt.username === undefined && env[MQTT_USERNAME_ENV] !== undefined) mqtt.username = env[MQTT_USERNAME_ENV];
    if (mqtt.password === undefined && env[MQTT_PASSWORD_ENV] !== undefined) mqtt.password = env[MQTT_PASSWORD_ENV];
  }
  // Before validation: ajv's defaults would make every key look present.
  const ignored = unusedKeys(data, configSchema as unknown as SchemaNode);
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const p = describeError(e, data);
      if (p) problems.push(p);
    }
  }
  if (problems.length) throw new ConfigError(file, onePerPath(problems));
  const cfg = data as unknown as Config;
  cfg.baseDir = dirname(resolve(file));
  cfg.ignoredKeys = [...ignored, ...unroutedBlocks(cfg)];
  // Tesla's key for the monitoring bind address; "" is every interface there.
  const metricsHost = cfg.monitoring.prometheus_metrics_host;
  if (metricsHost !== undefined) cfg.monitoring.host = metricsHost === '' ? '0.0.0.0' : metricsHost;
  checkMeaning(cfg, problems, warnings);
  if (problems.length) throw new ConfigError(file, problems);
  cfg.warnings = warnings;
  return cfg;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ code: 'unreadable', path: '', message: `cannot read the config file: ${unreadableReason(err)}` }]);
  }
  return parseConfig(text, file, env);
}

/** A path from the config, resolved against the config file's directory. */
export function configPath(cfg: Config, p: string): string {
  return resolve(cfg.baseDir, p);
}
