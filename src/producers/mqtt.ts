import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { planPublishes, type Publish } from '../publish/plan.js';
import { brokerUrl, clientIdFrom, planOptionsFrom } from './mqtt-options.js';
import type { Producer, ProducerFactory } from './types.js';

/** Why a record was not taken; the vehicle gets no response and resends it. */
export class PublishError extends Error {
  readonly code: 'broker_unavailable' | 'publish_timeout' | 'publish_failed';
  constructor(code: PublishError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Publishes every field of a record and resolves only when the broker acknowledged each one
 * (QoS 0: written; 1: PUBACK; 2: PUBCOMP), within publish_timeout_ms on its own clock: mqtt.js
 * callbacks do not always fire when a connection drops.
 */
export const createMqttProducer: ProducerFactory = ({ name, config, logger }) => {
  const log = logger.child({ producer: name });
  const plan = planOptionsFrom(config);
  const clientId = clientIdFrom(config);
  const url = brokerUrl(config);
  const statusTopic = `${config.mqtt.topic_base}/_server/${clientId}/status`;
  const timeoutMs = config.mqtt.publish_timeout_ms;

  const client: MqttClient = mqtt.connect(url, {
    clientId,
    username: config.mqtt.username,
    password: config.mqtt.password,
    keepalive: config.mqtt.keep_alive_seconds,
    connectTimeout: config.mqtt.connect_timeout_ms,
    reconnectPeriod: config.mqtt.connect_retry_interval_ms,
    clean: true,
    queueQoSZero: false,
    will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  let attempts = 0;
  client.on('connect', () => {
    attempts = 0;
    log.info({ event: 'mqtt_connected', broker: url, client_id: clientId }, 'connected to the MQTT broker');
    client.publish(statusTopic, 'online', { qos: 1, retain: true });
  });
  client.on('reconnect', () => {
    attempts++;
    log.info({ event: 'mqtt_reconnecting', broker: url, attempt: attempts }, 'connecting to the MQTT broker');
  });
  client.on('close', () => {
    // In-flight publishes must fail their record, not wait to be sent after a reconnect.
    dropInFlight();
  });
  client.on('offline', () => log.warn({ event: 'mqtt_offline', broker: url }, 'MQTT broker unreachable'));
  client.on('error', (err) => log.warn({ event: 'mqtt_error', broker: url, err: err.message }, 'MQTT error'));

  const pending = new Set<(err: Error) => void>();
  function dropInFlight(): void {
    for (const fail of pending) fail(new PublishError('broker_unavailable', 'connection to the broker lost'));
    pending.clear();
  }

  function publishAll(pubs: Publish[]): Promise<void> {
    if (pubs.length === 0) return Promise.resolve();
    if (!client.connected) {
      return Promise.reject(new PublishError('broker_unavailable', 'not connected to the broker'));
    }
    return new Promise<void>((resolve, reject) => {
      let left = pubs.length;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        pending.delete(finish);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new PublishError('publish_timeout', `broker did not acknowledge within ${timeoutMs} ms`)),
        timeoutMs,
      );
      pending.add(finish);
      for (const p of pubs) {
        const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain };
        client.publish(p.topic, p.payload, opts, (err) => {
          if (err) finish(new PublishError('publish_failed', err.message));
          else if (--left === 0) finish();
        });
      }
    });
  }

  const producer: Producer = {
    name,
    produce: (record) => publishAll(planPublishes(record, plan)),
    ready: () => client.connected,
    async close() {
      if (client.connected) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(config.mqtt.disconnect_timeout_ms, 100));
          client.publish(statusTopic, 'offline', { qos: 1, retain: true }, () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          client.end(true);
          resolve();
        }, config.mqtt.disconnect_timeout_ms);
        client.end(false, {}, () => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
  return producer;
};
