import type { Qos } from '../publish/plan.js';
import type { KafkaConfig } from '../producers/kafka/config.js';
import type { KinesisConfig } from '../producers/kinesis/config.js';
import type { RedisConfig } from '../producers/redis/config.js';
import type { ZmqConfig } from '../producers/zmq/config.js';

export interface KindSettings {
  qos?: Qos;
  retained?: boolean;
}

/** The configuration after validation: every default filled in. */
export interface Config {
  host: string;
  port: number;
  status_port?: number;
  log_level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  json_log_enable: boolean;
  namespace: string;
  /** Tesla's producers send Tesla's JSON instead of protobuf. */
  transmit_decoded_records: boolean;
  kafka?: KafkaConfig;
  kinesis?: KinesisConfig;
  redis?: RedisConfig;
  zmq?: ZmqConfig;
  records: Partial<Record<'V' | 'alerts' | 'errors' | 'connectivity', string[]>>;
  tls: {
    server_cert: string;
    server_key: string;
    ca_file?: string;
    trust_tesla_ca: boolean;
    proxy?: { trusted_proxies: string[]; client_cert_header: string };
  };
  use_default_eng_ca: boolean;
  rate_limit: { enabled: boolean; message_limit: number; message_interval_time: number };
  monitoring: {
    prometheus_metrics_port?: number;
    host: string;
    prometheus_metrics_host?: string;
    fleet_view: { max_vehicles: number; max_fields_per_vehicle: number; token_file?: string; public: boolean };
  };
  vins_signal_tracking_enabled: string[];
  mqtt: {
    broker: string;
    embedded_port: number;
    embedded_host: string;
    client_id?: string;
    status_topic?: string;
    username?: string;
    password?: string;
    topic_base: string;
    qos: Qos;
    retained: boolean;
    payload_format: 'value' | 'raw';
    ha_discovery: { enabled: boolean; prefix: string };
    connect_timeout_ms: number;
    publish_timeout_ms: number;
    publish_timeout_max_ms: number;
    disconnect_timeout_ms: number;
    connect_retry_interval_ms: number;
    keep_alive_seconds: number;
    connect_retry_max_interval_ms: number;
    qos2_window: number;
    tls?: { ca_file?: string; cert_file?: string; key_file?: string; server_name?: string; pin_sha256?: string };
    v?: KindSettings;
    alerts_current?: KindSettings;
    alerts_history?: KindSettings;
    errors?: KindSettings;
    connectivity?: KindSettings;
  };
  presence: { close_older_after_ms: number; stale_after_ms: number };
  tesla: { private_key?: string; public_key_port?: number };
  max_records_in_flight: number;
  workers: number | 'auto';
  max_records_in_flight_per_vehicle: number;
  producers: Record<string, { module: string; options?: Record<string, unknown> }>;
  /** Directory of the config file: relative paths in it resolve from here. */
  baseDir: string;
  /**
   * Set by the primary for its workers (not a config key): every worker's status topic, so Home
   * Assistant's entities stay available while any worker is online.
   */
  siblingStatusTopics?: string[];
  /** Accepted keys this server does not use (dotted paths), for the start-up warning. */
  ignoredKeys: string[];
  /** Other things worth a warning (duplicate keys, unused plugin producers); one sentence each. */
  warnings?: string[];
}
