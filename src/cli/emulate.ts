import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, UsageError, type Command } from './command.js';
import { ConfigError } from '../config/errors.js';
import { configPath, loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';
import { certSourceFromDir } from '../emulator/identity.js';
import { Fleet, type FleetOptions } from '../emulator/fleet.js';
import { FIELD_CATALOGUE } from '../emulator/fields.js';
import { progressLine, summaryText } from '../emulator/report.js';
import { FileFrameStore } from '../emulator/store.js';
import { VEHICLE_DEFAULTS } from '../emulator/options.js';

const DEFAULT_CONFIG = 'config.example.json';
const DEFAULT_CERT_DIR = 'dev-certs';
const D = VEHICLE_DEFAULTS;

const usage = [
  'usage: fleet-telemetry emulate [options]',
  '',
  'Emulated vehicles stream telemetry to the server over mTLS, like cars: each frame waits for its',
  'ack, is resent unchanged when none comes in time, and an error response ends it. Progress on',
  'stderr (a line the first time a connection fails for a new reason, then a count), a summary on stdout; exit 0 when every frame was acked, 1 otherwise.',
  '',
  'server:',
  `  --config FILE            read host, port and CA from this server config (default ${DEFAULT_CONFIG})`,
  "  --url URL                server address, e.g. wss://localhost:4443/ (instead of the config's host and port)",
  "  --ca FILE                CA certificate(s) the server's certificate is checked against",
  "                           (default: the config's tls.ca_file, else CERT_DIR/ca.pem)",
  '  --cert-dir DIR           vehicle certificates: DIR/vehicles/<VIN>.pem and .key, or issued in memory',
  "                           from DIR/ca.pem + ca.key (default: the directory of the config's tls.ca_file",
  `                           when it holds ca.key, else ${DEFAULT_CERT_DIR})`,
  'vehicles and traffic:',
  '  --vehicles N             how many vehicles (default 1); VINs 5YJ3E1EA7KF000001, …000002, …',
  '  --vin VIN                use this VIN (repeatable) instead of generated ones',
  `  --rate R                 frames per second per vehicle (default ${D.rate}; 0: as fast as the window allows)`,
  `  --fields N|A,B,…         V fields per frame: the first N of the catalogue, or names (default ${String(D.fields)})`,
  '  --duration S             stop making frames after S seconds',
  '  --frames N               stop after N frames per vehicle',
  `  --alerts-every N         every Nth frame is an alerts record (default ${D.alertsEvery}; 0: never)`,
  `  --errors-every N         every Nth frame is an errors record (default ${D.errorsEvery}; 0: never)`,
  `  --sim-step S             simulated seconds a frame advances the car (default ${D.simStepSeconds})`,
  '  --harsh-every N          cars drive trips (P → D → P) with a harsh braking or rapid acceleration',
  '                           every N frames (for the driver-score plugin); adds the trip fields',
  '                           (Gear, Odometer, Location, Longitudinal/LateralAcceleration, m/s²) to V',
  "  --seed N                 vary the cars' simulated days (default 0)",
  'delivery:',
  `  --window N               most unacked frames in flight per vehicle (default ${D.window})`,
  `  --resend-timeout-ms MS   resend a frame with no response after MS (default ${D.resendTimeoutMs})`,
  `  --max-retries N          resends of one frame before giving it up (default ${D.maxRetries})`,
  `  --ttl S                  give up a frame not acked S seconds after it was made (default ${D.ttlMs / 1000})`,
  `  --queue-size N           unacked frames a vehicle keeps; beyond, the oldest queued is dropped (default ${D.queueSize})`,
  '  --queue-file FILE        keep unacked frames in FILE; frames left there by an earlier run go out first',
  `  --backoff-ms MS          first reconnect delay, doubled per failure (default ${D.backoffMs})`,
  `  --backoff-max-ms MS      longest reconnect delay (default ${D.backoffMaxMs})`,
  '  --drain-timeout S        when frames stop being made, wait at most S seconds for responses (default 30)',
  'output:',
  '  --progress S             progress line on stderr every S seconds (default 3; 0: none)',
  '  --json                   print the summary as JSON',
  '',
  'Without --duration or --frames it runs until Ctrl-C (once: drain and summarise; twice: stop now).',
].join('\n');

function number(flags: Record<string, unknown>, name: string, opts: { min?: number; integer?: boolean } = {}): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const min = opts.min ?? 0;
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} needs ${opts.integer ? 'a whole number' : 'a number'} of at least ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `wss://host:port/` from a server config; a wildcard bind address means this machine. */
function urlFromConfig(cfg: Config): string {
  if (cfg.port === 0) throw new UsageError('the config listens on port 0 (any free port); pass --url');
  let host = cfg.host;
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  if (host.includes(':')) host = `[${host}]`;
  return `wss://${host}:${cfg.port}/`;
}

function normaliseUrl(u: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(u) ? u : `wss://${u}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(u)} is not a URL`);
  }
  if (url.protocol !== 'wss:') throw new UsageError(`--url must be wss:// (the server speaks only TLS), got ${url.protocol}//`);
  return url.toString();
}

const emulate: Command = {
  summary: 'emulate vehicles streaming telemetry to the server',
  usage,

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: [
        'config',
        'url',
        'ca',
        'cert-dir',
        'vehicles',
        'rate',
        'fields',
        'duration',
        'frames',
        'alerts-every',
        'errors-every',
        'sim-step',
        'harsh-every',
        'seed',
        'window',
        'resend-timeout-ms',
        'max-retries',
        'ttl',
        'queue-size',
        'queue-file',
        'backoff-ms',
        'backoff-max-ms',
        'drain-timeout',
        'progress',
      ],
      multi: ['vin'],
      booleans: ['json'],
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const vins = flags.vin as string[] | undefined;
    if (vins && flags.vehicles !== undefined) throw new UsageError('give --vehicles or --vin, not both');
    // The VIN names a certificate file under CERT_DIR/vehicles: no path separators.
    for (const vin of vins ?? []) if (!/^[A-Za-z0-9._-]{1,64}$/.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);

    let cfg: Config | undefined;
    if (flags.config !== undefined || flags.url === undefined) {
      const file = (flags.config as string | undefined) ?? DEFAULT_CONFIG;
      try {
        cfg = loadConfigFile(file);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`${err.message}\n${flags.config === undefined ? 'pass --config FILE or --url URL\n' : ''}`);
        return 2;
      }
    }
    const url = flags.url !== undefined ? normaliseUrl(flags.url as string) : urlFromConfig(cfg!);
    const configCa = cfg?.tls.ca_file ? configPath(cfg, cfg.tls.ca_file) : undefined;
    const certDir =
      (flags['cert-dir'] as string | undefined) ??
      (configCa && existsSync(path.join(path.dirname(configCa), 'ca.key')) ? path.dirname(configCa) : DEFAULT_CERT_DIR);
    const caFile = (flags.ca as string | undefined) ?? configCa ?? path.join(certDir, 'ca.pem');
    let ca: string;
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      process.stderr.write(`fleet-telemetry emulate: cannot read the CA file ${caFile}: ${(err as Error).message}\n`);
      return 2;
    }

    const fieldsRaw = flags.fields as string | undefined;
    const fields = fieldsRaw === undefined ? undefined : /^\d+$/.test(fieldsRaw) ? Number(fieldsRaw) : fieldsRaw.split(',').filter(Boolean);
    if (typeof fields === 'number' && (fields < 1 || fields > FIELD_CATALOGUE.length)) {
      throw new UsageError(`--fields takes 1 to ${FIELD_CATALOGUE.length}, or field names`);
    }
    const seconds = (name: string, min = 0) => {
      const s = number(flags, name, { min });
      return s === undefined ? undefined : s * 1000;
    };
    const opts: FleetOptions = {
      url,
      ca,
      certs: certSourceFromDir(certDir),
      vins,
      vehicles: number(flags, 'vehicles', { min: 1, integer: true }),
      rate: number(flags, 'rate'),
      fields,
      durationMs: seconds('duration'),
      frames: number(flags, 'frames', { min: 1, integer: true }),
      alertsEvery: number(flags, 'alerts-every', { integer: true }),
      errorsEvery: number(flags, 'errors-every', { integer: true }),
      simStepSeconds: number(flags, 'sim-step'),
      harshEvery: number(flags, 'harsh-every', { integer: true }),
      seed: number(flags, 'seed', { integer: true }),
      window: number(flags, 'window', { min: 1, integer: true }),
      resendTimeoutMs: number(flags, 'resend-timeout-ms', { min: 1 }),
      maxRetries: number(flags, 'max-retries', { integer: true }),
      ttlMs: seconds('ttl'),
      queueSize: number(flags, 'queue-size', { min: 1, integer: true }),
      backoffMs: number(flags, 'backoff-ms', { min: 1 }),
      backoffMaxMs: number(flags, 'backoff-max-ms', { min: 1 }),
      drainTimeoutMs: seconds('drain-timeout'),
      progressMs: seconds('progress') ?? 3000,
      onProgress: (p) => process.stderr.write(`${progressLine(p)}\n`),
      onConnectFailure: (line) => process.stderr.write(`${line}\n`),
    };

    const queueFile = flags['queue-file'] as string | undefined;
    let fleet: Fleet;
    try {
      if (queueFile) opts.store = FileFrameStore.open(queueFile);
      fleet = await Fleet.create(opts);
    } catch (err) {
      opts.store?.close();
      if (err instanceof RangeError) throw new UsageError(err.message, { cause: err });
      process.stderr.write(`fleet-telemetry emulate: ${(err as Error).message}\n`);
      return 2;
    }
    const v0 = fleet.vehicles[0];
    process.stderr.write(
      `emulating ${fleet.vehicles.length} vehicle${fleet.vehicles.length === 1 ? '' : 's'} → ${url}: ` +
        `${v0.tuning.rate || 'max'} frames/s each, ${v0.fieldNames.length} V fields (${v0.fieldNames.join(', ')})\n`,
    );

    let signals = 0;
    const onSignal = () => {
      if (++signals === 1) {
        process.stderr.write('stopping: waiting for outstanding responses (again to quit now)\n');
        fleet.finish();
      } else {
        fleet.abort();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let summary;
    try {
      summary = await fleet.run();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      opts.store?.close();
    }
    const kept = opts.store?.size();
    const out = queueFile ? { ...summary, queue_file: { path: queueFile, frames_kept: kept } } : summary;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(`${summaryText(summary)}\n`);
      if (queueFile) process.stdout.write(`queue file ${queueFile} keeps ${kept} frames for the next run\n`);
    }
    return summary.ok ? 0 : 1;
  },
};

export default emulate;
