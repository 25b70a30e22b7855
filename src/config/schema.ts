/**
 * The configuration's JSON Schema: the single source of validation, defaults (ajv fills them in),
 * error wording and the configuration reference (docs/configuration.md is rendered from it).
 * Tesla's keys (docs/protocol.md §7) keep their meaning.
 *
 * Annotations beside the JSON Schema keywords (ajv is told about them, so strict mode stays on):
 * - x-origin: "tesla" (a key of Tesla's config.json) or "project" (this server's own key)
 * - x-unused: the note logged when a Tesla key this server accepts but does not use is present
 * - x-allowed: how to describe the allowed values, where the keywords alone would say it poorly
 * - x-secret: the value is never echoed in an error
 * - x-env: environment variable that supplies the value when the file does not
 */

import { kafkaSchema } from '../producers/kafka/config.js';
import { kinesisSchema } from '../producers/kinesis/config.js';
import { redisSchema } from '../producers/redis/config.js';
import { zmqSchema } from '../producers/zmq/config.js';

export type Origin = 'tesla' | 'project';

/** Annotation keywords used in this schema; registered with ajv as a vocabulary. */
export const SCHEMA_ANNOTATIONS = ['x-origin', 'x-unused', 'x-allowed', 'x-secret', 'x-env'];

/** Environment variables read for the MQTT credentials when the file does not set them. */
export const MQTT_USERNAME_ENV = 'FLEET_TELEMETRY_MQTT_USERNAME';
export const MQTT_PASSWORD_ENV = 'FLEET_TELEMETRY_MQTT_PASSWORD';

/** Producers every build of this server has, by the name `records` uses; plugins add their own. */
export const BUILTIN_PRODUCERS = ['mqtt', 'logger', 'kafka', 'kinesis', 'redis', 'zmq'];

/** Tesla's producers that `records` may not name here, with why. */
export const REFUSED_PRODUCERS: Readonly<Record<string, string>> = {
  pubsub: 'no Google Pub/Sub server or emulator runs on this machine to prove it against, so it is not shipped',
};

/** The Tesla producers shipped here that need their own config block when routed. */
export const CONFIGURED_PRODUCERS = ['kafka', 'kinesis', 'redis', 'zmq'] as const;

const port = (description: string, origin: Origin, extra: Record<string, unknown> = {}) => ({
  type: 'integer',
  minimum: 0,
  maximum: 65535,
  description,
  'x-origin': origin,
  ...extra,
});

const kindSettings = (what: string) => ({
  type: 'object',
  description: `QoS and retain flag for ${what}; each falls back to mqtt.qos / mqtt.retained.`,
  additionalProperties: false,
  'x-origin': 'project',
  properties: {
    qos: { type: 'integer', enum: [0, 1, 2], description: `MQTT QoS of ${what}.`, 'x-origin': 'project' },
    retained: { type: 'boolean', description: `MQTT retain flag of ${what}.`, 'x-origin': 'project' },
  },
});

const producerList = (type: string, extra = '') => ({
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'string', minLength: 1 },
  description: `Producers that ${type} records go to.${extra}`,
  'x-allowed': 'a non-empty list of producer names (mqtt, logger, kafka, kinesis, redis, zmq or a name declared under producers), each once',
  'x-origin': 'tesla',
});

/** A Tesla block this server accepts whole and does not use. */
const teslaBlock = (note: string) => ({
  type: 'object',
  description: `Tesla's key: accepted and not used (${note}).`,
  'x-origin': 'tesla',
  'x-unused': note,
});

const teslaScalar = (type: string, note: string) => ({
  type,
  description: `Tesla's key: accepted and not used (${note}).`,
  'x-origin': 'tesla',
  'x-unused': note,
});

const NOT_SHIPPED = 'that producer is not shipped here';

export const configSchema = {
  $id: 'fleet-telemetry-config',
  type: 'object',
  additionalProperties: false,
  required: ['tls', 'records'],
  properties: {
    host: { type: 'string', default: '0.0.0.0', description: 'Address the vehicle listener binds.', 'x-origin': 'tesla' },
    port: port('Vehicle port (HTTPS + WebSocket, mTLS).', 'tesla', { default: 443 }),
    status_port: port('Optional plain-HTTP port answering GET /status with 200 ok (for load balancers).', 'tesla'),
    log_level: {
      type: 'string',
      enum: ['trace', 'debug', 'info', 'warn', 'error'],
      default: 'info',
      description: 'Least severe level that is logged.',
      'x-origin': 'tesla',
    },
    json_log_enable: { type: 'boolean', default: false, description: 'JSON log lines instead of readable ones.', 'x-origin': 'tesla' },
    namespace: {
      type: 'string',
      default: '',
      description:
        'Prefix of the names the kafka, kinesis, redis and zmq producers publish under: `<namespace>_<record type>` (Tesla\'s rule; "" gives `_V`). MQTT topics use mqtt.topic_base instead.',
      'x-origin': 'tesla',
    },
    records: {
      type: 'object',
      description:
        'Record type → producers it goes to. A record type that is absent is acked and not published. ' +
        "Built in: mqtt, logger, kafka, kinesis, redis and zmq (Tesla's, each configured by its own block); Tesla's pubsub is refused with the reason; " +
        '"logger" here is this server\'s logger producer, unrelated to the top-level logger key.',
      'x-allowed': 'an object mapping record types (V, alerts, errors, connectivity) to producer lists',
      additionalProperties: false,
      'x-origin': 'tesla',
      properties: {
        V: producerList('V (vehicle data)'),
        alerts: producerList('alerts'),
        errors: producerList('errors'),
        connectivity: producerList(
          'connectivity',
          ' When absent, connectivity records (made by the server on each connect and disconnect) go to every producer used by the other record types.',
        ),
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['server_cert', 'server_key'],
      description: "Server certificate and the client-CA pool. Relative paths resolve from the config file's directory.",
      'x-origin': 'tesla',
      properties: {
        server_cert: {
          type: 'string',
          minLength: 1,
          description: 'Server certificate (PEM), leaf first; may hold its intermediates, and is sent whole.',
          'x-origin': 'tesla',
        },
        server_key: { type: 'string', minLength: 1, description: 'Private key of the server certificate (PEM, unencrypted).', 'x-origin': 'tesla' },
        ca_file: {
          type: 'string',
          minLength: 1,
          description: "Extra client CAs (PEM, CA certificates only), added to Tesla's bundle in the client-CA pool.",
          'x-origin': 'tesla',
        },
        trust_tesla_ca: {
          type: 'boolean',
          default: true,
          description:
            "Trust Tesla's vehicle CA bundle (shipped with the server); false leaves it out, for fleets of other devices (then ca_file is required).",
          'x-origin': 'project',
        },
        proxy: {
          type: 'object',
          additionalProperties: false,
          required: ['trusted_proxies', 'client_cert_header'],
          description:
            'mTLS ended at a proxy in front (nginx, haproxy, a load balancer); absent: this server ends mTLS itself. When set, the vehicle port speaks plain HTTP/WebSocket, ' +
            "serves only trusted_proxies (others are closed unread) and refuses a TLS handshake; each request must carry the vehicle's certificate in client_cert_header, " +
            "which is verified again against the client-CA pool (expiry included) and gives the VIN as in direct mTLS. The proxy's own client-CA list must be Tesla's bundle and ca_file, nothing more. " +
            'server_cert and server_key then name the certificate the proxy presents (vehicle-config and check-config judge it); the server does not serve it.',
          'x-origin': 'project',
          properties: {
            trusted_proxies: {
              type: 'array',
              minItems: 1,
              items: { type: 'string', minLength: 1 },
              description: 'Addresses or CIDRs of the proxies allowed to connect ("127.0.0.1", "10.0.0.0/8", "fd00::/8"); host names are not resolved.',
              'x-allowed': 'a non-empty list of IP addresses or CIDRs',
              'x-origin': 'project',
            },
            client_cert_header: {
              type: 'string',
              pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
              description:
                'Request header holding the client certificate the proxy verified: URL-encoded PEM (nginx $ssl_client_escaped_cert) or base64 DER (haproxy ssl_c_der,base64). ' +
                'The proxy must set it on every request, replacing any a client sent.',
              'x-allowed': 'an HTTP header name',
              'x-origin': 'project',
            },
          },
        },
      },
    },
    use_default_eng_ca: {
      type: 'boolean',
      default: false,
      description: "Trust Tesla's engineering CA bundle instead of the production one.",
      'x-origin': 'tesla',
    },
    disable_tls: teslaScalar('boolean', 'this server always requires mTLS'),
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Per-connection rate limit; a connection over the limit is slowed down, never dropped.',
      'x-origin': 'tesla',
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Apply the rate limit.', 'x-origin': 'tesla' },
        message_limit: { type: 'integer', minimum: 1, default: 1000, description: 'Frames per window and connection.', 'x-origin': 'tesla' },
        message_interval_time: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 30,
          description: 'Window length in seconds.',
          'x-origin': 'tesla',
        },
      },
    },
    monitoring: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Metrics and health endpoints.',
      'x-origin': 'tesla',
      properties: {
        prometheus_metrics_port: port(
          'Plain-HTTP port of /metrics (Prometheus), /livez, /readyz and /vehicles; 0 picks a free port (logged as monitoring_listening); absent: no monitoring listener and no metrics.',
          'tesla',
        ),
        host: {
          type: 'string',
          default: '127.0.0.1',
          description: 'Address the monitoring listener binds; /vehicles lists VINs, so keep it private.',
          'x-origin': 'project',
        },
        prometheus_metrics_host: {
          type: 'string',
          description:
            'Tesla\'s name for the address the monitoring listener binds; when set it takes the place of monitoring.host ("" binds every interface, as in Tesla\'s server).',
          'x-origin': 'tesla',
        },
        profiler_port: teslaScalar('integer', 'no profiler in this server'),
        profiler_host: teslaScalar('string', 'no profiler in this server'),
        profiling_path: teslaScalar('string', 'no profiler in this server'),
        statsd: teslaBlock('metrics are served to Prometheus only'),
        fleet_view: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'The fleet view (the page at /, /api/fleet, /api/vehicles/<VIN>, /api/events, and /vehicles): who may read it, and the latest values it keeps in memory. ' +
            'On loopback it is open unless token_file is set; on any other address it answers only with the token, or to anyone with public: true, and is refused (403) otherwise. ' +
            '/metrics, /livez and /readyz are never behind the token.',
          'x-origin': 'project',
          properties: {
            max_vehicles: {
              type: 'integer',
              minimum: 1,
              default: 10000,
              description: 'Vehicles kept (connected or not); past it the disconnected vehicle heard from longest ago is forgotten first.',
              'x-origin': 'project',
            },
            max_fields_per_vehicle: {
              type: 'integer',
              minimum: 1,
              maximum: 1000,
              default: 256,
              description: 'Latest field values kept per vehicle; fields first seen past it are not shown (the default covers every field of the schema).',
              'x-origin': 'project',
            },
            token_file: {
              type: 'string',
              minLength: 1,
              description:
                'File holding the token (at least 16 characters, e.g. `openssl rand -hex 32`) that the fleet view asks for: `Authorization: Bearer <token>` for the API, ' +
                'a login form for the page (the token then kept in an HttpOnly, SameSite=Strict cookie). Read once at start; compared in constant time; never logged. ' +
                'Wrong tokens are limited to 10 a minute per address.',
              'x-origin': 'project',
            },
            public: {
              type: 'boolean',
              default: false,
              description: 'Serve the fleet view without a credential on an address other than loopback (a warning at start names what is open, and where).',
              'x-origin': 'project',
            },
          },
        },
      },
    },
    vins_signal_tracking_enabled: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description: 'VINs that get their own series in /metrics (frames, fields, connection, last frame); no other metric carries a VIN.',
      'x-origin': 'tesla',
    },
    reliable_ack: teslaScalar('boolean', 'acks here are always reliable'),
    reliable_ack_sources: {
      ...teslaBlock('acks here are always reliable'),
      additionalProperties: { type: 'string' },
    },
    reliable_ack_workers: teslaScalar('integer', 'acks here are always reliable'),
    transmit_decoded_records: {
      type: 'boolean',
      default: false,
      description:
        "The kafka, kinesis, redis and zmq producers send each record as Tesla's JSON of its protobuf message instead of the protobuf bytes (MQTT is always JSON).",
      'x-origin': 'tesla',
    },
    logger: teslaBlock("Tesla's logger producer settings; this server's logger producer has none"),
    airbrake: teslaBlock('no Airbrake reporting in this server'),
    kafka: kafkaSchema,
    kinesis: kinesisSchema,
    pubsub: teslaBlock(NOT_SHIPPED),
    zmq: zmqSchema,
    redis: redisSchema,
    mqtt: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The mqtt producer: where and how every field is published.',
      'x-origin': 'tesla',
      properties: {
        broker: {
          type: 'string',
          minLength: 1,
          pattern: '^(embedded|[^\\s:/]+(:\\d{1,5})?|\\[[0-9A-Fa-f:.]+\\](:\\d{1,5})?|(mqtt|mqtts|tcp|tls|ssl)://\\S+)$',
          default: 'embedded',
          description: '"host:port" (Tesla\'s form), a URL (mqtt:// or mqtts:// for TLS, see mqtt.tls) or "embedded" for the in-process broker.',
          'x-allowed': '"embedded", "host:port" or a URL such as "mqtts://host:8883"',
          'x-origin': 'tesla',
        },
        embedded_port: port('Port of the embedded broker (with broker "embedded").', 'project', { default: 1883 }),
        embedded_host: { type: 'string', default: '127.0.0.1', description: 'Address the embedded broker binds.', 'x-origin': 'project' },
        client_id: {
          type: 'string',
          minLength: 1,
          maxLength: 80,
          pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
          'x-allowed': 'a string of 1 to 80 characters, no control characters',
          description:
            "MQTT client id. Default fleet-telemetry-<hostname>-<8 hex digits of a hash of the config file's folder, host and port>: the same across restarts of one installation, different for two instances on one host.",
          'x-origin': 'tesla',
        },
        status_topic: {
          type: 'string',
          pattern: '^([^+#\\u0000-\\u001f\\u007f-\\u009f]{1,1024})?$',
          'x-allowed': 'a topic without + or # or control characters, or "" to publish no status',
          description:
            'Where the server publishes its own status: retained "online", and "offline" as the Last Will. Default fleet-telemetry/<client id>/status, outside topic_base so every message under topic_base is a vehicle\'s; "" publishes none.',
          'x-origin': 'project',
        },
        username: {
          type: 'string',
          description: `Broker user name; when absent, taken from the environment variable ${MQTT_USERNAME_ENV}.`,
          'x-env': MQTT_USERNAME_ENV,
          'x-origin': 'tesla',
        },
        password: {
          type: 'string',
          description: `Broker password; when absent, taken from the environment variable ${MQTT_PASSWORD_ENV}.`,
          'x-env': MQTT_PASSWORD_ENV,
          'x-secret': true,
          'x-origin': 'tesla',
        },
        topic_base: {
          type: 'string',
          default: 'telemetry',
          pattern: '^[^/+#\\u0000-\\u001f\\u007f-\\u009f]([^+#\\u0000-\\u001f\\u007f-\\u009f]{0,1022}[^/+#\\u0000-\\u001f\\u007f-\\u009f])?$',
          'x-allowed': 'a non-empty topic without + or # or control characters, not starting or ending with /',
          description: 'First topic level(s) of every publish. Brokers refuse publishes to a wildcard, so + and # are errors here.',
          'x-origin': 'tesla',
        },
        qos: { type: 'integer', enum: [0, 1, 2], default: 0, description: 'MQTT QoS of every publish, unless set per record type below.', 'x-origin': 'tesla' },
        retained: { type: 'boolean', default: false, description: 'MQTT retain flag of every publish, unless set per record type below.', 'x-origin': 'tesla' },
        payload_format: {
          type: 'string',
          enum: ['value', 'raw'],
          default: 'value',
          description: 'v/ payloads: `{"value": v}` ("value") or the bare value as Tesla\'s server publishes it ("raw").',
          'x-origin': 'project',
        },
        ha_discovery: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'Home Assistant MQTT discovery: a retained config for each field a vehicle sends (published before its first value), for its connectivity and for the server, sent again when Home Assistant publishes "online" on <prefix>/status.',
          'x-origin': 'project',
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Publish Home Assistant discovery configs.', 'x-origin': 'project' },
            prefix: {
              type: 'string',
              default: 'homeassistant',
              pattern: '^[^/+#\\u0000-\\u001f\\u007f-\\u009f]([^+#\\u0000-\\u001f\\u007f-\\u009f]{0,254}[^/+#\\u0000-\\u001f\\u007f-\\u009f])?$',
              'x-allowed': 'a non-empty topic without + or # or control characters, not starting or ending with /',
              description: "Home Assistant's discovery prefix (its MQTT integration's setting of the same name).",
              'x-origin': 'project',
            },
          },
        },
        connect_timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 30000,
          description: 'Deadline of one connection attempt to the broker.',
          'x-origin': 'tesla',
        },
        publish_timeout_ms: {
          type: 'integer',
          minimum: 1,
          default: 2500,
          description:
            "Deadline of one record's publishes while the broker is quick; a record not published in time is not acked (the vehicle resends it), " +
            'but its publishes stay in flight: a late acknowledgement completes them and the resend is answered by them, never published twice.',
          'x-origin': 'tesla',
        },
        publish_timeout_max_ms: {
          type: 'integer',
          minimum: 1,
          default: 15000,
          description:
            "Longest deadline of one record's publishes. Between publish_timeout_ms and this, the deadline follows the broker's measured " +
            'acknowledgement time (smoothed time plus four times its deviation, as TCP sets its retransmission timer), so a slow broker is waited for ' +
            'instead of every record timing out; the publishes taken on at once shrink meanwhile. Set it to publish_timeout_ms for a fixed deadline.',
          'x-origin': 'project',
        },
        disconnect_timeout_ms: {
          type: 'integer',
          minimum: 0,
          default: 250,
          description: 'Time given to in-flight publishes at shutdown.',
          'x-origin': 'tesla',
        },
        connect_retry_interval_ms: {
          type: 'integer',
          minimum: 1,
          default: 10000,
          description:
            "Longest wait between connection attempts (Tesla's meaning): after a loss the first retry comes within a second, then waits double, with ±20% jitter, up to this.",
          'x-origin': 'tesla',
        },
        keep_alive_seconds: { type: 'integer', minimum: 0, default: 30, description: 'MQTT keep-alive interval; 0 turns it off.', 'x-origin': 'tesla' },
        qos2_window: {
          type: 'integer',
          minimum: 1,
          maximum: 65535,
          default: 20,
          description:
            "QoS 2 publishes awaiting PUBCOMP at once. mosquitto (max_inflight_messages, default 20) silently drops MQTT 3.1.1 QoS 2 publishes beyond its window while still completing their handshake, so this must not exceed the broker's setting.",
          'x-origin': 'project',
        },
        connect_retry_max_interval_ms: {
          type: 'integer',
          minimum: 1,
          default: 60000,
          description:
            'A further cap on the wait between connection attempts, from earlier versions of this server; the smaller of it and connect_retry_interval_ms applies.',
          'x-origin': 'project',
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          dependencies: { cert_file: ['key_file'], key_file: ['cert_file'] },
          description: 'TLS to the broker (with an mqtts:// broker URL).',
          'x-origin': 'project',
          properties: {
            ca_file: {
              type: 'string',
              minLength: 1,
              description: "CA certificates (PEM) the broker's certificate must chain to; default the system store.",
              'x-origin': 'project',
            },
            cert_file: { type: 'string', minLength: 1, description: 'Client certificate (PEM) for brokers that require one.', 'x-origin': 'project' },
            key_file: { type: 'string', minLength: 1, description: 'Private key (PEM) of cert_file.', 'x-origin': 'project' },
            server_name: {
              type: 'string',
              minLength: 1,
              description: "Name the broker's certificate must cover; default the broker host.",
              'x-origin': 'project',
            },
            pin_sha256: {
              type: 'string',
              pattern: '^(sha256/)?[A-Za-z0-9+/]{43}=$',
              'x-allowed': 'a base64 SHA-256 (43 characters and "="), optionally after "sha256/"',
              description: "Base64 SHA-256 of the broker's public key (SubjectPublicKeyInfo); any other key is refused.",
              'x-origin': 'project',
            },
          },
        },
        v: kindSettings('v/<Field> publishes'),
        alerts_current: kindSettings('alerts/<name>/current publishes'),
        alerts_history: kindSettings('alerts/<name>/history publishes'),
        errors: kindSettings('errors/<name> publishes'),
        connectivity: kindSettings('connectivity publishes'),
      },
    },
    presence: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'A vehicle\'s presence: online while any connection of it is open, published retained on <topic_base>/<VIN>/presence (`{"online", "connections", "since", "server"}`) on every change, beside the connectivity records of each connection; Home Assistant\'s connectivity entity reads it.',
      'x-origin': 'project',
      properties: {
        close_older_after_ms: {
          type: 'integer',
          minimum: 0,
          maximum: 3600000,
          default: 5000,
          description:
            'Once a newer connection of a vehicle has handled its first frame, its older connections (on a cellular network most likely dead, lingering until TCP gives up) are closed after this long, with WebSocket close code 4000 and an info log line (older_connection_closed). An older connection that handled a frame meanwhile is alive and kept. 0 keeps every connection.',
          'x-origin': 'project',
        },
        stale_after_ms: {
          type: 'integer',
          minimum: 0,
          maximum: 86400000,
          default: 60000,
          description:
            "After a start or a broker reconnect, a vehicle left online (retained) by this server's earlier run that has not connected within this long is published offline. An online of another server whose status turned offline (its Last Will) is corrected at once.",
          'x-origin': 'project',
        },
      },
    },
    tesla: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "Tesla's side of connecting a car: the application key, and the page Tesla fetches its public half from.",
      'x-origin': 'project',
      properties: {
        private_key: {
          type: 'string',
          minLength: 1,
          description:
            'The application key (PEM, P-256, unencrypted; `fleet-telemetry tesla keys` makes one): the key cars trust for signed configs. Refused at start, with the reason, when it is not one.',
          'x-origin': 'project',
        },
        public_key_port: port(
          "HTTPS port of the public key page: GET /.well-known/appspecific/com.tesla.3p.public-key.pem answers the public key of tesla.private_key, with the vehicle listener's certificate and no client certificate asked; anything else is 404. Tesla fetches it on 443 of the application's domain: forward that to this port. Absent: no page.",
          'project',
        ),
      },
    },
    max_records_in_flight: {
      type: 'integer',
      minimum: 1,
      default: 20000,
      description:
        'Records being published at once, server-wide; at the bound the server stops reading from vehicle sockets until some settle (backpressure, not buffering).',
      'x-origin': 'project',
    },
    workers: {
      anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }],
      default: 1,
      'x-allowed': 'a whole number from 1 to 256, or "auto"',
      description:
        'Processes serving vehicles; "auto" is one per available core, and `serve --workers` overrides it. Above 1, a primary process owns the embedded broker, the monitoring and status ports and restarts workers that die; each worker serves vehicles on the shared port with its own MQTT connection: client id suffixed -w<k> (so the default status topic is per worker too), an explicit status_topic suffixed /w<k>. 1 is one plain process.',
      'x-origin': 'project',
    },
    max_records_in_flight_per_vehicle: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description:
        'Records one connection may have being published at once, on top of max_records_in_flight; at the bound the server stops reading ' +
        'from that vehicle until its records settle (it is slowed, never refused; no frame is dropped). Sized so one vehicle holds only a small ' +
        'share of what the broker can acknowledge within mqtt.publish_timeout_ms: a V record of 50 fields is 50 publishes, so 64 records are ' +
        'about 3,200 publishes, a few percent of the tens of thousands a second a stock broker acknowledges; a vehicle that pipelines as fast ' +
        "as it can then cannot fill the window and make other vehicles' publishes time out. Raise it for few vehicles on a high-latency link to the broker. " +
        "The MQTT producer bounds each vehicle's fields in flight too, by what the broker acknowledges in its base time plus 4 % of mqtt.publish_timeout_ms.",
      'x-origin': 'project',
    },
    producers: {
      type: 'object',
      description: 'Producers loaded from a module, by the name records use: name → { module, options }.',
      default: {},
      'x-origin': 'project',
      // Tesla's producer names stay free for plugins: one written before they were built in keeps working.
      propertyNames: { not: { enum: ['mqtt', 'logger'] } },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['module'],
        'x-allowed': 'an object { "module": ..., "options": { ... } }',
        properties: {
          module: {
            type: 'string',
            minLength: 1,
            description: 'Path (relative to the config file, starting with ./ or ../) or package name of a module exporting the factory.',
            'x-origin': 'project',
          },
          options: { type: 'object', description: 'Passed to the factory as is.', 'x-origin': 'project' },
        },
      },
    },
  },
} as const;

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  [k: string]: unknown;
}

/** Every key with an x-unused note, as a dotted path → note. */
function unusedNotes(node: SchemaNode, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof child['x-unused'] === 'string') out.set(path, child['x-unused']);
    unusedNotes(child, path, out);
  }
  return out;
}

/** Tesla keys accepted for compatibility and named in one warning at start-up, with why. */
export const UNUSED_KEY_NOTES: ReadonlyMap<string, string> = unusedNotes(configSchema);

/** Tesla keys accepted for compatibility and not used here (dotted paths). */
export const TESLA_UNSUPPORTED_KEYS = [...UNUSED_KEY_NOTES.keys()];
