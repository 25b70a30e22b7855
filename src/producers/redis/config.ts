/**
 * The `redis` block: Tesla's keys with Tesla's meaning (config/config.go, datastore/redis), so
 * a Tesla config moves over unchanged. Durations are Go's time.Duration in JSON: nanoseconds.
 */

const tesla = 'tesla' as const;
const nanos = (what: string) => ({ type: 'integer', minimum: 0, description: `${what}, in nanoseconds (Go's time.Duration).`, 'x-origin': tesla });

export const REDIS_PASSWORD_ENV = 'REDIS_PASSWORD';

/** Publish deadline when publish_timeout is 0 or absent, as in Tesla's server. */
export const REDIS_DEFAULT_PUBLISH_TIMEOUT_NS = 5_000_000_000;

export const redisSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    "The redis producer (Tesla's): each record's message is PUBLISHed on `<namespace>_<record type>_{<VIN>}` (publish_vin_topics) " +
    'and on every channel listed in the sorted set `<subscriber_set_prefix>_<that channel>` whose score (a lease expiry, epoch seconds) has not passed. ' +
    'A frame is acked once Redis answered every PUBLISH (the reply is the delivery report; Redis keeps nothing for a channel nobody subscribes to). ' +
    'Needed when records route to redis.',
  'x-origin': tesla,
  properties: {
    addrs: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description:
        '"host:port" of the Redis server, or of the cluster nodes the cluster is discovered from (cluster_mode); redis:// and rediss:// URLs are accepted too.',
      'x-allowed': 'a non-empty list of "host:port" strings',
      'x-origin': tesla,
    },
    username: { type: 'string', description: 'ACL user name (Redis 6 and later); absent: the default user.', 'x-origin': tesla },
    password: {
      type: 'string',
      description: `Password; the environment variable ${REDIS_PASSWORD_ENV}, when set and not empty, takes its place (as in Tesla's server).`,
      'x-secret': true,
      'x-origin': tesla,
    },
    db: { type: 'integer', minimum: 0, default: 0, description: 'Database number (SELECT); Redis Cluster has only 0.', 'x-origin': tesla },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: "TLS to Redis: present (even {}) turns it on. The server's certificate is verified against ca_file, or the system store without it.",
      'x-origin': tesla,
      properties: {
        ca_file: { type: 'string', minLength: 1, description: "CA certificates (PEM) the server's certificate must chain to.", 'x-origin': tesla },
        server_cert: {
          type: 'string',
          minLength: 1,
          description: 'Client certificate (PEM) for a server that asks for one (Tesla names it server_cert here too).',
          'x-origin': tesla,
        },
        server_key: { type: 'string', minLength: 1, description: 'Private key (PEM) of server_cert.', 'x-origin': tesla },
      },
    },
    override_tls_server_name: {
      type: 'boolean',
      default: false,
      description:
        "With tls: verify every node's certificate for the host of the first addrs entry, instead of the address dialled (cluster nodes announce themselves by IP).",
      'x-origin': tesla,
    },
    pool: {
      type: 'object',
      description:
        "Tesla's go-redis connection pool (pool_size, min_idle_conns, max_idle_conns, max_active_conns, read_timeout, write_timeout, pool_timeout, conn_max_idle_time, conn_max_lifetime): accepted and not used (here one pipelined connection per Redis node carries every PUBLISH).",
      'x-origin': tesla,
      'x-unused': 'one pipelined connection per Redis node here',
    },
    publish_timeout: nanos("Deadline of one record's PUBLISHes; 0 or absent: 5 seconds"),
    cluster_mode: {
      type: 'boolean',
      default: false,
      description: 'addrs are Redis Cluster nodes: channels and set keys are routed by hash slot (the VIN in braces keeps one vehicle on one slot).',
      'x-origin': tesla,
    },
    publish_vin_topics: {
      type: 'boolean',
      default: false,
      description: 'Publish every record on its VIN channel `<namespace>_<record type>_{<VIN>}`.',
      'x-origin': tesla,
    },
    subscriber_set_prefix: {
      type: 'string',
      default: '',
      description:
        'Also publish on the channels listed in the sorted set `<prefix>_<namespace>_<record type>_{<VIN>}`, each scored with its lease expiry (epoch seconds); ' +
        'expired entries are removed before each publish. "" consults no set. publish_vin_topics or this must be set.',
      'x-origin': tesla,
    },
    max_in_flight: {
      type: 'integer',
      minimum: 1,
      default: 10000,
      description:
        'Records this producer holds unanswered at once; at the bound the server stops reading from the vehicles whose records go here until Redis answers (backpressure, not buffering).',
      'x-origin': 'project',
    },
  },
} as const;

interface RedisTlsConfig {
  ca_file?: string;
  server_cert?: string;
  server_key?: string;
}

/** The validated `redis` block (defaults filled in). */
export interface RedisConfig {
  addrs?: string[];
  username?: string;
  password?: string;
  db: number;
  tls?: RedisTlsConfig;
  override_tls_server_name: boolean;
  pool?: Record<string, unknown>;
  publish_timeout?: number;
  cluster_mode: boolean;
  publish_vin_topics: boolean;
  subscriber_set_prefix: string;
  max_in_flight: number;
}
