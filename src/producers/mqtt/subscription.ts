import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { IdWindow } from './ids.js';
import { readSuback } from './control-packets.js';
import { PacketType } from './packets.js';
import { encodePuback, encodeSubscribe, readPublish } from './subscribe-packets.js';

export interface SubscriptionOptions {
  /** Topic filters, each at QoS 0 or 1 (QoS 1 messages are acknowledged with PUBACK). */
  filters: readonly { topic: string; qos: 0 | 1 }[];
  /** A message on one of the filters (retained ones included, `retain` set). */
  onMessage(topic: string, payload: Buffer, retain: boolean): void;
}

/**
 * The link's one subscription (Home Assistant's birth message): SUBSCRIBE on every connect (a
 * clean session forgets it), SUBACK checked, PUBLISH read and acknowledged. Its packet id comes
 * from the publish window, so it never collides with a publish's.
 */
export class Subscription {
  private pendingId = 0;

  constructor(
    private readonly o: SubscriptionOptions,
    private readonly logger: Logger,
  ) {}

  /** The connection is up: subscribe. */
  connected(socket: Socket, ids: IdWindow<object>): void {
    const id = ids.alloc(null, false);
    if (id === 0) return;
    this.pendingId = id;
    socket.write(encodeSubscribe(id, this.o.filters));
  }

  /** Handles SUBACK and PUBLISH; false for any other packet. Throws on a malformed one. */
  handle(socket: Socket, ids: IdWindow<object>, type: number, buf: Buffer, start: number, length: number, flags: number): boolean {
    if (type === PacketType.SUBACK) {
      const { packetId: id, codes } = readSuback(flags, buf.subarray(start, start + length));
      if (id !== this.pendingId) return true;
      this.pendingId = 0;
      ids.free(id);
      const refused = codes.includes(0x80);
      if (refused) this.logger.warn({ event: 'mqtt_subscribe_refused', filters: this.o.filters.map((f) => f.topic) }, 'the broker refused the subscription');
      else this.logger.debug({ event: 'mqtt_subscribed', filters: this.o.filters.map((f) => f.topic) }, 'subscribed');
      return true;
    }
    if (type !== PacketType.PUBLISH) return false;
    const p = readPublish(buf, start, length, flags);
    if (p.qos === 1) socket.write(encodePuback(p.packetId));
    // QoS 2 is never granted: the filters ask for at most 1.
    this.o.onMessage(p.topic, Buffer.from(p.payload), p.retain);
    return true;
  }

  /** The connection is gone (its ids are cleared with it). */
  reset(): void {
    this.pendingId = 0;
  }
}
