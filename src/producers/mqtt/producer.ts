import { planPublishes, type Publish } from '../../publish/plan.js';
import { statusTopic as statusTopicOf, TopicNames } from '../../publish/topics.js';
import { Announcer } from './announce.js';
import type { Producer, ProducerFactory } from '../types.js';
import { derivedPublish, type DerivedSink } from '../derived.js';
import { Batch, LinkError, MqttLink, type LinkOptions } from './link.js';
import { OverdueRecords } from './overdue.js';
import type { VehicleRecord } from '../../record/types.js';
import { brokerTlsFrom, brokerUrl, clientIdFrom, planOptionsFrom, retryMaxMsFrom } from './options.js';
import { parseBrokerUrl } from './transport.js';
import { Republisher } from './republish.js';
import { presencePublish } from '../../publish/presence.js';
import { PresenceWatch } from './presence-watch.js';
import type { PresenceSink } from '../presence.js';

/** Longest random wait before republishing on Home Assistant's birth message. */
const BIRTH_JITTER_MS = 2000;

/**
 * The mqtt producer: every field of a record to the broker, resolved only when the broker
 * acknowledged each publish (QoS 0: written; 1: PUBACK; 2: PUBCOMP) within its deadline
 * (publish_timeout_ms, longer while the broker is slower). Rejects with InvalidRecord when a
 * publish could never be sent (the vehicle gets an error), and with LinkError otherwise (no
 * response: the vehicle resends). A record answered at its deadline keeps its publishes in
 * flight: its resend is answered by them, so a slow broker never gets the same fields twice.
 */
export const createMqttProducer: ProducerFactory = ({ name, config, logger, presenceCorrections }) => {
  const log = logger.child({ producer: name });
  const m = config.mqtt;
  const plan = planOptionsFrom(config);
  const clientId = clientIdFrom(config);
  const statusTopic = statusTopicOf(m.status_topic, clientId);
  const ha = m.ha_discovery;
  let announcer: Announcer | undefined;
  let republisher: Republisher | undefined;
  let onState: LinkOptions['onState'];
  let birth: ((topic: string, payload: Buffer) => boolean) | undefined;
  const filters: { topic: string; qos: 0 | 1 }[] = [];
  if (ha?.enabled) {
    plan.topics ??= new TopicNames(plan.topicBase);
    const a = (announcer = new Announcer({
      prefix: ha.prefix,
      payloadFormat: plan.payloadFormat,
      names: plan.topics,
      statusTopic,
      siblingStatusTopics: config.siblingStatusTopics,
      qos: m.qos,
    }));
    // Configs outside a record: no deadline, nothing to answer; lost with the connection.
    republisher = new Republisher((pubs, done) => link.send(new Batch(pubs, done, Infinity)));
    const again = republisher;
    const birthTopic = `${ha.prefix}/status`;
    let connects = 0;
    // After an outage the broker may have lost its retained messages (a restart without
    // persistence): every config goes out again, as the announcer would otherwise never resend it.
    onState = (up) => {
      if (!up) return;
      const first = connects++ === 0;
      again.start(() => (first ? a.server() : a.configs()));
    };
    filters.push({ topic: birthTopic, qos: 1 });
    birth = (topic, payload) => {
      if (topic !== birthTopic) return false;
      if (payload.toString('utf8') !== 'online') return true;
      // Every server and worker hears the same birth message: a random wait spreads them out.
      const delayMs = Math.floor(Math.random() * BIRTH_JITTER_MS);
      log.info({ event: 'ha_birth', topic, delay_ms: delayMs }, 'Home Assistant is online: publishing every discovery config again');
      again.start(() => a.configs(), delayMs);
      return true;
    };
  }
  // Presence names its publisher: the status topic, or the client id without one.
  const serverId = statusTopic ?? clientId;
  const presenceNames = (plan.topics ??= new TopicNames(plan.topicBase));
  const watch = presenceCorrections
    ? new PresenceWatch({
        names: presenceNames,
        own: new Set([serverId, ...(config.siblingStatusTopics ?? [])]),
        staleAfterMs: config.presence.stale_after_ms,
        corrections: presenceCorrections,
      })
    : undefined;
  if (watch) filters.push(...watch.filters());
  const discovery: Pick<LinkOptions, 'subscription' | 'onState'> = {
    onState,
    subscription: filters.length
      ? {
          filters,
          onMessage(topic, payload, retain) {
            if (birth?.(topic, payload)) return;
            watch?.onMessage(topic, payload, retain);
          },
        }
      : undefined,
  };
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
    publishTimeoutMs: m.publish_timeout_ms,
    publishTimeoutMaxMs: m.publish_timeout_max_ms,
    qos2Window: m.qos2_window,
    logger: log,
    onlineMessage: statusTopic === undefined ? undefined : { topic: statusTopic, payload: 'online' },
    ...discovery,
  });

  const send = (pubs: Publish[]) =>
    new Promise<void>((resolve, reject) => {
      link.send(new Batch(pubs, (err) => (err ? reject(err) : resolve()), Date.now() + link.deadlineMs()));
    });
  const overdue = new OverdueRecords();
  /** The record's batch; once its answer goes out overdue, a resend of the record finds it. */
  const sendRecord = (record: VehicleRecord, pubs: readonly Publish[], failed?: () => void) =>
    new Promise<void>((resolve, reject) => {
      const b: Batch = new Batch(
        pubs,
        (err) => {
          if (!err) return resolve();
          if (b.settled) {
            failed?.();
            return reject(err);
          }
          // Answered at the deadline, still in flight: the rejection says when the work ends.
          reject(new LinkError('publish_timeout', err.message, { cause: err, completion: overdue.add(record, b, failed) }));
        },
        Date.now() + link.deadlineMs(),
      );
      link.send(b);
    });
  /** A resend whose original's publishes are still in flight: answered by them. */
  const rejoin = (record: VehicleRecord): Promise<void> | undefined => {
    const b = overdue.find(record);
    if (!b) return undefined;
    return new Promise<void>((resolve, reject) => {
      const joined = link.answerAgain(b, (err) => (err ? reject(err) : resolve()), Date.now() + link.deadlineMs());
      if (!joined) reject(new LinkError('connection_lost', 'the original publishes were lost with the broker connection'));
    });
  };
  const producer: Producer & DerivedSink & PresenceSink & { link: MqttLink } = {
    name,
    link,
    // The link answers every batch by its deadline: no guard timer per record is needed.
    selfTimed: true,
    produce(record) {
      const again = overdue.size() === 0 ? undefined : rejoin(record);
      if (again) return again;
      let pubs;
      try {
        pubs = planPublishes(record, plan);
      } catch (err) {
        // A name too long for a topic level: the record is wrong in itself (permanent).
        return Promise.reject(err);
      }
      if (announcer === undefined) {
        if (pubs.length === 0) return Promise.resolve();
        return sendRecord(record, pubs);
      }
      const a = announcer;
      let planned;
      try {
        planned = a.plan(record, pubs);
      } catch (err) {
        return Promise.reject(err);
      }
      const { added } = planned;
      if (planned.pubs.length === 0) return Promise.resolve();
      // Not published: announced again with the field's next value.
      return sendRecord(record, planned.pubs, added && (() => a.undo(record.vin, added)));
    },
    // One publish outside a record, for a plugin (DerivedPublisher): the field values' QoS, the
    // same deadline and the same errors as a record's publishes.
    publishDerived(vin, derivedName, value) {
      let pub;
      try {
        pub = derivedPublish((plan.topics ??= new TopicNames(plan.topicBase)), plan.v, vin, derivedName, value);
      } catch (err) {
        return Promise.reject(err);
      }
      return send([pub]);
    },
    // Outside any record: its own deadline and errors, as a derived publish.
    publishPresence(vin, p) {
      let pub;
      try {
        pub = presencePublish(presenceNames, vin, { ...p, server: serverId }, m.connectivity?.qos ?? m.qos);
      } catch (err) {
        return Promise.reject(err);
      }
      return send([pub]);
    },
    start: () => link.start(),
    ready: () => link.connected,
    hasRoom: () => link.hasRoom(),
    onRoom: (listener) => link.onRoom(listener),
    vehicleBudget: () => link.vehicleBudget(),
    async close() {
      republisher?.stop();
      await link.close(
        Math.max(m.disconnect_timeout_ms, 100),
        statusTopic === undefined ? undefined : { topic: statusTopic, payload: 'offline', qos: 1, retain: true },
      );
    },
  };
  return producer;
};
