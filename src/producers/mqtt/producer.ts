import { planPublishes } from '../../publish/plan.js';
import { statusTopic as statusTopicOf } from '../../publish/topics.js';
import type { Producer, ProducerFactory } from '../types.js';
import { Batch, MqttLink } from './link.js';
import { brokerTlsFrom, brokerUrl, clientIdFrom, planOptionsFrom, retryMaxMsFrom } from './options.js';
import { parseBrokerUrl } from './transport.js';

/**
 * The mqtt producer: every field of a record to the broker, resolved only when the broker
 * acknowledged each publish (QoS 0: written; 1: PUBACK; 2: PUBCOMP) within publish_timeout_ms.
 * Rejects with InvalidRecord when a publish could never be sent (the vehicle gets an error), and
 * with LinkError otherwise (no response: the vehicle resends).
 */
export const createMqttProducer: ProducerFactory = ({ name, config, logger }) => {
  const log = logger.child({ producer: name });
  const m = config.mqtt;
  const plan = planOptionsFrom(config);
  const clientId = clientIdFrom(config);
  const statusTopic = statusTopicOf(m.status_topic, clientId);
  const timeoutMs = m.publish_timeout_ms;
  const link = new MqttLink({
    endpoint: parseBrokerUrl(brokerUrl(config), brokerTlsFrom(config)),
    connect: {
      clientId,
      keepAliveSeconds: m.keep_alive_seconds,
      cleanSession: true,
      username: m.username,
      password: m.password,
      will: statusTopic === undefined ? undefined : { topic: statusTopic, payload: 'offline', qos: 1, retain: true },
    },
    connectTimeoutMs: m.connect_timeout_ms,
    retryMaxMs: retryMaxMsFrom(config),
    publishTimeoutMs: timeoutMs,
    qos2Window: m.qos2_window,
    logger: log,
    onlineMessage: statusTopic === undefined ? undefined : { topic: statusTopic, payload: 'online' },
  });

  const producer: Producer & { link: MqttLink } = {
    name,
    link,
    // The link fails every batch at its deadline: no guard timer per record is needed.
    selfTimed: true,
    produce(record) {
      let pubs;
      try {
        pubs = planPublishes(record, plan);
      } catch (err) {
        // A name too long for a topic level: the record is wrong in itself (permanent).
        return Promise.reject(err);
      }
      if (pubs.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        link.send(new Batch(pubs, (err) => (err ? reject(err) : resolve()), Date.now() + timeoutMs));
      });
    },
    start: () => link.start(),
    ready: () => link.connected,
    hasRoom: () => link.hasRoom(),
    onRoom: (listener) => link.onRoom(listener),
    async close() {
      await link.close(Math.max(m.disconnect_timeout_ms, 100), statusTopic === undefined ? undefined : { topic: statusTopic, payload: 'offline', qos: 1, retain: true });
    },
  };
  return producer;
};
