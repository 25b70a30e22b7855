import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { CompressionTypes, type SASLOptions } from 'kafkajs';
import { FleetTelemetryError } from '../../errors.js';
import { unreadableReason } from '../../unreadable.js';

/**
 * The `kafka` section is Tesla's: librdkafka configuration properties, by their names, with
 * string, number or boolean values. What of it this producer honours, read into one shape.
 */
export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** -1: every in-sync replica (librdkafka's default, `all`), 1: the leader, 0: none. */
  acks: -1 | 0 | 1;
  compression: CompressionTypes;
  lingerMs: number;
  /** Records held at once: queue.buffering.max.messages. */
  maxHeld: number;
  batchMax: number;
  batchBytes: number;
  messageMaxBytes: number;
  maxSends: number;
  idempotent: boolean;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  metadataMaxAgeMs: number;
  partitioner: 'consistent_random' | 'consistent' | 'murmur2_random';
  ssl?: ConnectionOptions | true;
  sasl?: SASLOptions;
}

export class KafkaConfigError extends FleetTelemetryError {
  declare readonly code: 'kafka_config';
  constructor(message: string, opts?: { cause?: unknown }) {
    super('kafka_config', message, opts);
  }
}

/** Keys librdkafka knows that change nothing in what this producer sends or acks. */
const NO_EFFECT = new Set([
  'log_level',
  'debug',
  'statistics.interval.ms',
  'socket.keepalive.enable',
  'api.version.request',
  'broker.version.fallback',
  'log.connection.close',
  'enable.gapless.guarantee',
  'queue.buffering.max.kbytes',
  'message.timeout.ms',
  'delivery.timeout.ms',
  'reconnect.backoff.ms',
  'reconnect.backoff.max.ms',
  'socket.timeout.ms',
]);

/** Sends in flight at once unless max.in.flight says fewer. */
const MAX_SENDS = 5;
/** Retries of one send inside the client; past them the vehicle's resend is the retry. */
const MAX_RETRIES = 5;

type Raw = Readonly<Record<string, unknown>>;

function str(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new KafkaConfigError(`kafka.${key}: expected a string, number or boolean`);
}

function int(raw: Raw, key: string, fallback: number, min = 0): number {
  const s = str(raw, key);
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!Number.isFinite(n) || n < min) throw new KafkaConfigError(`kafka.${key}: ${JSON.stringify(raw[key])} is not a number of at least ${min}`);
  return Math.floor(n);
}

function bool(raw: Raw, key: string, fallback: boolean): boolean {
  const s = str(raw, key)?.toLowerCase();
  if (s === undefined) return fallback;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new KafkaConfigError(`kafka.${key}: ${JSON.stringify(raw[key])} is not true or false`);
}

/** The first of several librdkafka aliases that is set. */
function alias(raw: Raw, keys: string[]): string {
  return keys.find((k) => raw[k] !== undefined) ?? keys[0];
}

function acksOf(raw: Raw): -1 | 0 | 1 {
  const key = alias(raw, ['acks', 'request.required.acks']);
  const s = str(raw, key)?.toLowerCase();
  if (s === undefined || s === 'all' || s === '-1') return -1;
  if (s === '0') return 0;
  if (s === '1') return 1;
  throw new KafkaConfigError(`kafka.${key}: ${JSON.stringify(raw[key])}: this producer takes all, -1, 0 or 1`);
}

function compressionOf(raw: Raw): CompressionTypes {
  const key = alias(raw, ['compression.type', 'compression.codec']);
  const s = str(raw, key)?.toLowerCase();
  if (s === undefined || s === 'none') return CompressionTypes.None;
  if (s === 'gzip') return CompressionTypes.GZIP;
  throw new KafkaConfigError(`kafka.${key}: ${JSON.stringify(raw[key])} is not supported here: use gzip or none`);
}

function partitionerOf(raw: Raw): KafkaSettings['partitioner'] {
  const s = str(raw, 'partitioner');
  if (s === undefined || s === 'consistent_random') return 'consistent_random';
  if (s === 'consistent' || s === 'murmur2_random') return s;
  throw new KafkaConfigError(`kafka.partitioner: ${JSON.stringify(s)} is not supported here: use consistent_random, consistent or murmur2_random`);
}

function pemOrFile(raw: Raw, pemKey: string, fileKey: string, resolve: (p: string) => string): string | undefined {
  const pem = str(raw, pemKey);
  if (pem !== undefined) return pem;
  const file = str(raw, fileKey);
  if (file === undefined) return undefined;
  try {
    return readFileSync(resolve(file), 'utf8');
  } catch (err) {
    throw new KafkaConfigError(`kafka.${fileKey}: cannot read ${file}: ${unreadableReason(err)}`, { cause: err });
  }
}

/** Where distributions keep their CA bundle (Debian, Red Hat, SUSE, Alpine): what "probe" looks for. */
const CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem'];

const PEM_CERT = '-----BEGIN CERTIFICATE-----';

/** The PEM certificates of every file in `dir` (OpenSSL's hashed links or plain .pem/.crt files). */
function certificatesIn(dir: string): string {
  const pems = readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile())
    .map((path) => readFileSync(path, 'utf8'))
    .filter((text) => text.includes(PEM_CERT));
  if (pems.length === 0) throw new KafkaConfigError(`kafka.ssl.ca.location: the folder ${dir} holds no PEM certificate`);
  return pems.join('\n');
}

/**
 * The CAs the broker's certificate is checked against. librdkafka's ssl.ca.location is a file or a
 * folder of CA certificates, or "probe": the distribution's CA bundle, found at its usual path
 * (Node's own roots when there is none).
 */
function caOf(raw: Raw, resolve: (p: string) => string): string | undefined {
  const pem = str(raw, 'ssl.ca.pem');
  if (pem !== undefined) return pem;
  const location = str(raw, 'ssl.ca.location');
  if (location === undefined) return undefined;
  const path = location === 'probe' ? CA_BUNDLES.find((p) => existsSync(p)) : resolve(location);
  if (path === undefined) return undefined;
  try {
    return statSync(path).isDirectory() ? certificatesIn(path) : readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KafkaConfigError) throw err;
    throw new KafkaConfigError(`kafka.ssl.ca.location: cannot read ${path}: ${unreadableReason(err)}`, { cause: err });
  }
}

function sslOf(raw: Raw, resolve: (p: string) => string): ConnectionOptions | true {
  const o: ConnectionOptions = {};
  const ca = caOf(raw, resolve);
  const cert = pemOrFile(raw, 'ssl.certificate.pem', 'ssl.certificate.location', resolve);
  const key = pemOrFile(raw, 'ssl.key.pem', 'ssl.key.location', resolve);
  if (ca !== undefined) o.ca = ca;
  if (cert !== undefined) o.cert = cert;
  if (key !== undefined) o.key = key;
  const pass = str(raw, 'ssl.key.password');
  if (pass !== undefined) o.passphrase = pass;
  if (!bool(raw, 'enable.ssl.certificate.verification', true)) o.rejectUnauthorized = false;
  // librdkafka checks the broker's name unless this is "none".
  if (str(raw, 'ssl.endpoint.identification.algorithm')?.toLowerCase() === 'none') o.checkServerIdentity = () => undefined;
  return Object.keys(o).length ? o : true;
}

function saslOf(raw: Raw): SASLOptions {
  const key = alias(raw, ['sasl.mechanisms', 'sasl.mechanism']);
  const mech = (str(raw, key) ?? 'GSSAPI').toUpperCase();
  const username = str(raw, 'sasl.username') ?? '';
  const password = str(raw, 'sasl.password') ?? '';
  if (mech === 'PLAIN') return { mechanism: 'plain', username, password };
  if (mech === 'SCRAM-SHA-256') return { mechanism: 'scram-sha-256', username, password };
  if (mech === 'SCRAM-SHA-512') return { mechanism: 'scram-sha-512', username, password };
  throw new KafkaConfigError(`kafka.${key}: ${mech} is not supported here: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`);
}

/** Every key this producer reads (aliases included). */
const READ = new Set([
  'bootstrap.servers',
  'metadata.broker.list',
  'client.id',
  'acks',
  'request.required.acks',
  'compression.type',
  'compression.codec',
  'linger.ms',
  'queue.buffering.max.ms',
  'queue.buffering.max.messages',
  'batch.num.messages',
  'batch.size',
  'message.max.bytes',
  'max.in.flight',
  'max.in.flight.requests.per.connection',
  'enable.idempotence',
  'request.timeout.ms',
  'socket.connection.setup.timeout.ms',
  'retries',
  'message.send.max.retries',
  'retry.backoff.ms',
  'retry.backoff.max.ms',
  'topic.metadata.refresh.interval.ms',
  'partitioner',
  'security.protocol',
  'ssl.ca.location',
  'ssl.ca.pem',
  'ssl.certificate.location',
  'ssl.certificate.pem',
  'ssl.key.location',
  'ssl.key.pem',
  'ssl.key.password',
  'enable.ssl.certificate.verification',
  'ssl.endpoint.identification.algorithm',
  'sasl.mechanisms',
  'sasl.mechanism',
  'sasl.username',
  'sasl.password',
]);

/** Keys of the section this producer neither reads nor knows to be without effect. */
export function unusedKafkaKeys(raw: Raw): string[] {
  return Object.keys(raw).filter((k) => !READ.has(k) && !NO_EFFECT.has(k));
}

/**
 * The settings from Tesla's `kafka` section, librdkafka's defaults where a key is absent. Throws
 * KafkaConfigError for a value this producer cannot honour (a codec or mechanism it lacks).
 * `resolve` makes a file path absolute (against the config file's folder).
 */
export function kafkaSettingsFrom(raw: Raw, resolve: (p: string) => string = (p) => p): KafkaSettings {
  const serversKey = alias(raw, ['bootstrap.servers', 'metadata.broker.list']);
  const brokers = (str(raw, serversKey) ?? '')
    .split(',')
    .map((b) => b.trim().replace(/^[a-z_]+:\/\//i, ''))
    .filter(Boolean);
  if (brokers.length === 0) throw new KafkaConfigError('kafka.bootstrap.servers: no broker given');
  const protocol = (str(raw, 'security.protocol') ?? 'plaintext').toLowerCase();
  if (!['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'].includes(protocol)) {
    throw new KafkaConfigError(`kafka.security.protocol: ${JSON.stringify(protocol)} is not plaintext, ssl, sasl_plaintext or sasl_ssl`);
  }
  const idempotent = bool(raw, 'enable.idempotence', false);
  const acks = acksOf(raw);
  if (idempotent && acks !== -1) throw new KafkaConfigError('kafka.enable.idempotence needs acks=all');
  const inFlight = int(raw, alias(raw, ['max.in.flight', 'max.in.flight.requests.per.connection']), 1_000_000, 1);
  return {
    brokers,
    clientId: str(raw, 'client.id') ?? 'fleet-telemetry',
    acks,
    compression: compressionOf(raw),
    lingerMs: int(raw, alias(raw, ['linger.ms', 'queue.buffering.max.ms']), 5),
    maxHeld: int(raw, 'queue.buffering.max.messages', 100_000, 1),
    batchMax: int(raw, 'batch.num.messages', 10_000, 1),
    batchBytes: int(raw, 'batch.size', 1_000_000, 1),
    messageMaxBytes: int(raw, 'message.max.bytes', 1_000_000, 1000),
    // The client keeps an idempotent producer's order with one request in flight.
    maxSends: idempotent ? 1 : Math.min(MAX_SENDS, inFlight),
    idempotent,
    requestTimeoutMs: int(raw, 'request.timeout.ms', 30_000, 1),
    connectionTimeoutMs: int(raw, 'socket.connection.setup.timeout.ms', 30_000, 1),
    retries: Math.min(MAX_RETRIES, int(raw, alias(raw, ['retries', 'message.send.max.retries']), MAX_RETRIES)),
    retryBackoffMs: int(raw, 'retry.backoff.ms', 100, 1),
    retryBackoffMaxMs: int(raw, 'retry.backoff.max.ms', 1000, 1),
    metadataMaxAgeMs: int(raw, 'topic.metadata.refresh.interval.ms', 300_000, 1),
    partitioner: partitionerOf(raw),
    ssl: protocol === 'ssl' || protocol === 'sasl_ssl' ? sslOf(raw, resolve) : undefined,
    sasl: protocol.startsWith('sasl_') ? saslOf(raw) : undefined,
  };
}
