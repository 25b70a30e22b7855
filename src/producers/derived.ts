import type { Logger } from 'pino';
import type { DerivedPublisher } from '../plugin/producer.js';
import type { Publish, PublishKindSettings } from '../publish/plan.js';
import type { TopicNames } from '../publish/topics.js';
import { InvalidRecord, type Producer } from './types.js';
import { FleetTelemetryError } from '../errors.js';

export type { DerivedPublisher };

/** Told after a derived publish succeeded (the fleet page keeps the last trip through it). */
export type DerivedListener = (vin: string, name: string, value: unknown) => void;

/** A producer that can send one publish outside a record (the mqtt producer). */
export interface DerivedSink {
  publishDerived(vin: string, name: string, value: unknown): Promise<void>;
}

export class DerivedUnavailable extends FleetTelemetryError {
  declare readonly code: 'derived_unavailable';
  constructor(message: string, opts?: { cause?: unknown }) {
    super('derived_unavailable', message, opts);
  }
}

/**
 * The publish of a derived value: the topic from the one topic builder, the JSON text, the QoS
 * and retain flag of field values. Throws TopicLevelError or InvalidRecord (both permanent).
 */
export function derivedPublish(topics: TopicNames, settings: PublishKindSettings, vin: string, name: string, value: unknown): Publish {
  const topic = topics.derived(vin, name);
  let payload: string | undefined;
  try {
    payload = JSON.stringify(value);
  } catch (err) {
    throw new InvalidRecord(`derived ${name}: value is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (payload === undefined) throw new InvalidRecord(`derived ${name}: value is not JSON (${typeof value})`);
  return { topic, payload, ...settings };
}

function isSink(p: Producer | undefined): p is Producer & DerivedSink {
  return typeof (p as Partial<DerivedSink> | undefined)?.publishDerived === 'function';
}

/**
 * The publisher every plugin is given. It finds the mqtt producer when a publish is made, not
 * when the plugin is created, as plugins may be created first.
 */
export function derivedPublisher(producers: ReadonlyMap<string, Producer>, logger: Logger, onDerived?: DerivedListener): DerivedPublisher {
  return {
    publish(vin, name, value) {
      const sink = producers.get('mqtt');
      if (!isSink(sink)) {
        return Promise.reject(new DerivedUnavailable('no mqtt producer runs: route a record type to "mqtt" to publish derived records'));
      }
      let sent: Promise<void>;
      try {
        sent = sink.publishDerived(vin, name, value);
      } catch (err) {
        return Promise.reject(err);
      }
      if (!onDerived) return sent;
      return sent.then(() => {
        try {
          onDerived(vin, name, value);
        } catch (err) {
          // The publish did happen: a listener's fault is logged, not the plugin's failure.
          logger.warn({ event: 'derived_listener_failed', vin, name, err: (err as Error).message }, 'derived listener threw');
        }
      });
    },
  };
}
