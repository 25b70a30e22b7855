import mqtt, { type MqttClient } from 'mqtt';

/** Broker lines for the counts below: $SYS every second instead of every 10. */
export const SYS_EVERY_SECOND = 'sys_interval 1';

export interface PingSnapshot {
  /** Every packet mosquitto read, of every kind, and the PUBLISHes among them. */
  packets: number;
  publishes: number;
}

/**
 * The server's PINGREQs (the nudges and its keep-alive), counted by mosquitto itself from its
 * $SYS counters, so the server needs no counter of its own and the broker no per-packet log
 * (which would slow it). Non-PUBLISH packets read are PINGREQs, plus a PUBREL per publish at
 * QoS 2: nothing else is sent to the broker while the vehicles run.
 */
export class BrokerPings {
  private last: PingSnapshot = { packets: NaN, publishes: NaN };

  private constructor(private readonly client: MqttClient) {}

  static async open(url: string): Promise<BrokerPings> {
    // No keep-alive: its own PINGREQs would count.
    const client = mqtt.connect(url, { keepalive: 0, reconnectPeriod: 0, clientId: `bench-sys-${process.pid}` });
    const p = new BrokerPings(client);
    client.on('message', (topic, payload) => {
      const n = Number(payload.toString());
      if (topic === '$SYS/broker/messages/received') p.last = { ...p.last, packets: n };
      else if (topic === '$SYS/broker/publish/messages/received') p.last = { ...p.last, publishes: n };
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(['$SYS/broker/messages/received', '$SYS/broker/publish/messages/received']);
    return p;
  }

  snapshot(): PingSnapshot {
    return { ...this.last };
  }

  /** PINGREQs per frame of `fields` publishes between two snapshots. */
  static perFrame(a: PingSnapshot, b: PingSnapshot, qos: number, fields: number): number {
    const pubs = b.publishes - a.publishes;
    const pings = b.packets - a.packets - pubs * (qos === 2 ? 2 : 1);
    return pubs > 0 ? (Math.max(0, pings) * fields) / pubs : NaN;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}
