import type { DiscoveryOptions } from '../../src/publish/discovery.js';
import { TopicNames } from '../../src/publish/topics.js';

/** Discovery as the rule tests run it: the default prefix, value payloads, QoS 1. */
export const discoveryOptions = (): DiscoveryOptions => ({
  prefix: 'homeassistant',
  payloadFormat: 'value',
  names: new TopicNames('telemetry'),
  statusTopic: 'fleet-telemetry/x/status',
  qos: 1,
});
