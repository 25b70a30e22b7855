import mqtt, { type MqttClient } from 'mqtt';
import { waitUntil } from './ports.js';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export interface Subscriber {
  client: MqttClient;
  messages: Received[];
  waitFor(pred: (m: Received[]) => boolean, ms?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

/** A downstream subscriber on `topic` (default everything). */
export async function subscribe(url: string, topic = '#', opts: { clientId?: string; clean?: boolean; qos?: 0 | 1 | 2 } = {}): Promise<Subscriber> {
  const client = mqtt.connect(url, { clientId: opts.clientId, clean: opts.clean ?? true, reconnectPeriod: 200 });
  const messages: Received[] = [];
  client.on('message', (t, payload, packet) => {
    messages.push({ topic: t, payload: payload.toString('utf8'), retain: packet.retain, qos: packet.qos });
  });
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topic, { qos: opts.qos ?? 1 });
  return {
    client,
    messages,
    waitFor: async (pred, ms = 10_000, what = 'messages') => {
      await waitUntil(() => pred(messages), ms, what);
    },
    close: () => client.endAsync(true).then(() => undefined),
  };
}
