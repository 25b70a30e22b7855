import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { parseArgs, UsageError, type Command } from './command.js';
import { ConfigError } from '../config/errors.js';
import { configPath, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { connackReason, socketErrorText } from './doctor/broker.js';
import { brokerUrl } from '../producers/mqtt/options.js';
import { parseBrokerUrl } from '../producers/mqtt/transport.js';

/** How long the first connection may take before subscribe gives up (exit 1). */
const FIRST_CONNECT_MS = 10_000;

const DEFAULT_CONFIG = 'config.example.json';

const usage = [
  'usage: fleet-telemetry subscribe [TOPIC] [options]',
  '',
  'Prints what MQTT subscribers see, one line per publish: time, topic, payload.',
  '',
  `  TOPIC              topic filter (default <topic_base>/# of the config)`,
  `  --config FILE      take the broker and topic base from this server config (default ${DEFAULT_CONFIG})`,
  '  --broker URL       broker to use instead, e.g. mqtt://127.0.0.1:1883 or host:port',
  "  --username U       broker user name (default: the config's mqtt.username)",
  "  --password P       broker password (default: the config's mqtt.password)",
  '  --qos N            subscription QoS, 0, 1 or 2 (default 1)',
  '  --count N          exit after N publishes',
  '  --duration S       exit after S seconds',
  '',
  'Exit status: 0 at the end (--count, --duration, a signal); 1 when the broker refuses the',
  `connection (bad user name or password, not authorized) or cannot be reached within ${FIRST_CONNECT_MS / 1000} s; 2 for`,
  'a wrong command line, an invalid config or a refused subscription. Once connected, a lost',
  'connection is retried.',
].join('\n');

/** Where the server publishes: "embedded" is this machine, "host:port" is Tesla's form of a URL. */
function brokerFromConfig(cfg: Config): string {
  if (cfg.mqtt.broker === 'embedded' && cfg.mqtt.embedded_port === 0) {
    throw new UsageError("the config's embedded broker takes any free port; pass --broker");
  }
  return brokerUrl(cfg);
}

/** The server's own TLS settings for a TLS broker (mqtt.tls), when the config has them. */
function brokerTls(cfg: Config): { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string } {
  const t = (cfg.mqtt as { tls?: { ca_file?: string; cert_file?: string; key_file?: string; server_name?: string } }).tls;
  if (!t) return {};
  const read = (f?: string) => (f ? readFileSync(configPath(cfg, f)) : undefined);
  return { ca: read(t.ca_file), cert: read(t.cert_file), key: read(t.key_file), servername: t.server_name };
}

/** One line per publish whatever the payload holds: control characters escaped, binary as hex. */
export function payloadText(buf: Buffer): string {
  const text = buf.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(buf)) return `0x${buf.toString('hex')}`;
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

const subscribe: Command = {
  summary: 'print what subscribers see on the broker, one line per publish',
  usage,

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config', 'broker', 'username', 'password', 'qos', 'count', 'duration'] });
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
    const qos = flags.qos === undefined ? 1 : Number(flags.qos);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new UsageError('--qos must be 0, 1 or 2');
    const count = flags.count === undefined ? undefined : Number(flags.count);
    if (count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError('--count needs a whole number of at least 1');
    const duration = flags.duration === undefined ? undefined : Number(flags.duration);
    if (duration !== undefined && !(duration > 0)) throw new UsageError('--duration needs a positive number of seconds');

    let url = flags.broker as string | undefined;
    let topicBase = 'telemetry';
    let username = flags.username as string | undefined;
    let password = flags.password as string | undefined;
    let tls = {};
    // Without --broker the config says where; with it, a config given explicitly still names the topic base.
    if (url === undefined || flags.config !== undefined) {
      try {
        const cfg = loadConfigFile((flags.config as string | undefined) ?? DEFAULT_CONFIG);
        topicBase = cfg.mqtt.topic_base;
        username ??= cfg.mqtt.username;
        password ??= cfg.mqtt.password;
        if (url === undefined) {
          url = brokerFromConfig(cfg);
          tls = brokerTls(cfg);
        }
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`${err.message}\n${flags.config === undefined ? 'pass --config FILE or --broker URL\n' : ''}`);
        return 2;
      }
    }
    const topic = positionals[0] ?? `${topicBase}/#`;
    const brokerAt = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `mqtt://${url}`;
    let endpoint: { host: string; port: number; secure: boolean };
    try {
      endpoint = parseBrokerUrl(brokerAt, {});
    } catch (err) {
      throw new UsageError(`--broker ${url}: ${(err as Error).message}`, { cause: err });
    }
    const client = mqtt.connect(brokerAt, {
      ...tls,
      clientId: `fleet-telemetry-subscribe-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: FIRST_CONNECT_MS,
      username,
      password,
    });
    return new Promise<number>((resolve) => {
      let seen = 0;
      let ended = false;
      let lastError = '';
      let wasConnected = false;
      let everConnected = false;
      const end = (code: number) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        clearTimeout(firstConnect);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        client.end(true, {}, () => resolve(code));
        // A client torn down by a refused CONNACK may never call back; the exit code must not be lost.
        setTimeout(() => resolve(code), 1000);
      };
      const who = username !== undefined ? `as user ${JSON.stringify(username)}` : 'without a user name';
      /** The broker refused or could not be reached before the first CONNACK: nothing to wait for. */
      const fail = (why: string) => {
        if (ended) return;
        process.stderr.write(`subscribe: ${why}\n`);
        end(1);
      };
      const firstConnect = setTimeout(
        () => fail(`${brokerAt} did not accept a connection within ${FIRST_CONNECT_MS / 1000} s${lastError ? ` (last error: ${lastError})` : ''}`),
        FIRST_CONNECT_MS,
      );
      const onSignal = () => end(0);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const timer = duration !== undefined ? setTimeout(() => end(0), duration * 1000) : undefined;
      // A reader that went away (`| head`) ends the command, not an error.
      process.stdout.on('error', () => end(0));

      client.on('connect', () => {
        clearTimeout(firstConnect);
        wasConnected = true;
        everConnected = true;
        lastError = '';
        client.subscribe(topic, { qos }, (err, granted) => {
          if (err || granted?.some((g) => g.qos === 128)) {
            process.stderr.write(`subscribe: the broker refused ${topic}${err ? `: ${err.message}` : ''}\n`);
            end(2);
            return;
          }
          process.stderr.write(`subscribed to ${topic} on ${brokerAt}\n`);
        });
      });
      client.on('message', (t, payload, packet) => {
        if (ended) return;
        process.stdout.write(`${new Date().toISOString()} ${t} ${payloadText(payload)}${packet.retain ? ' (retained)' : ''}\n`);
        if (count !== undefined && ++seen >= count) end(0);
      });
      client.on('offline', () => {
        if (wasConnected) process.stderr.write(`subscribe: connection to ${brokerAt} lost; reconnecting\n`);
        wasConnected = false;
      });
      client.on('error', (err: Error & { code?: string | number }) => {
        // A number is a CONNACK refusal (mqtt.js's ErrorWithReasonCode): retrying cannot help.
        if (typeof err.code === 'number') {
          fail(`${brokerAt} refused the connection ${who}: ${connackReason(err.code)} (CONNACK code ${err.code})`);
          return;
        }
        if (!everConnected) {
          const why =
            err.message === 'connack timeout'
              ? `no CONNACK within ${FIRST_CONNECT_MS / 1000} s: something took the connection but did not answer as an MQTT broker`
              : socketErrorText(err as NodeJS.ErrnoException, endpoint);
          fail(`cannot reach ${brokerAt}: ${why}`);
          return;
        }
        if (err.message === lastError) return;
        lastError = err.message;
        process.stderr.write(`subscribe: ${brokerAt}: ${err.message}\n`);
      });
    });
  },
};

export default subscribe;
