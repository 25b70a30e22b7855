import { MAX_PACKET_ID } from './packets.js';

/**
 * The window of MQTT packet ids: which publish owns each id until its PUBACK/PUBCOMP, and how
 * many of those are QoS 2 (the broker's QoS 2 window is far smaller than 65,535). The owner is
 * whatever the caller settles on the ack; `null` marks an id whose owner needs no answer.
 */
export class IdWindow<T extends object> {
  private readonly owners: (T | null | undefined)[] = new Array<T | null | undefined>(MAX_PACKET_ID + 1);
  private readonly qos2 = new Uint8Array(MAX_PACKET_ID + 1);
  private nextId = 1;
  /** Ids awaiting their acknowledgement. */
  inUse = 0;
  /** Of those, QoS 2 ones (awaiting PUBCOMP). */
  qos2InUse = 0;

  /** A free id now owned by `owner`, or 0 when all 65,535 are taken. */
  alloc(owner: T | null, isQos2: boolean): number {
    if (this.inUse >= MAX_PACKET_ID) return 0;
    let id = this.nextId;
    while (this.owners[id] !== undefined) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.owners[id] = owner;
    this.inUse++;
    if (isQos2) {
      this.qos2[id] = 1;
      this.qos2InUse++;
    }
    this.nextId = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }

  /** Frees `id` and returns its owner (undefined when the id was not in use: a stray ack). */
  free(id: number): T | null | undefined {
    const owner = this.owners[id];
    if (owner === undefined) return undefined;
    this.owners[id] = undefined;
    this.inUse--;
    if (this.qos2[id]) {
      this.qos2[id] = 0;
      this.qos2InUse--;
    }
    return owner;
  }

  has(id: number): boolean {
    return this.owners[id] !== undefined;
  }

  /** Frees every id (the connection is gone), calling `each` with each distinct owner once per id. */
  clear(each: (owner: T) => void): void {
    if (this.inUse === 0) return;
    for (let id = 1; id <= MAX_PACKET_ID && this.inUse > 0; id++) {
      const owner = this.free(id);
      if (owner) each(owner);
    }
    this.nextId = 1;
  }
}
