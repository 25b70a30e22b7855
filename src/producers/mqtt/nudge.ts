import type { Socket } from 'node:net';
import { PINGREQ } from './packets.js';

/** Publishes awaiting acknowledgement from which a link counts as busy. */
const BUSY_IN_FLIGHT = 64;

/** What a nudge needs to know of its link. */
export interface NudgeLink {
  /** Publishes awaiting acknowledgement. */
  inFlight(): number;
  /** A flush is about to write (it will carry the ACK). */
  writePending(): boolean;
  /** The connection is up and still this socket's. */
  live(socket: Socket): boolean;
  /** A PINGREQ was written (keep-alive bookkeeping, counts). */
  nudged(): void;
}

/**
 * A broker with Nagle's algorithm on (mosquitto's default) holds its next PUBACKs until our
 * kernel acknowledges the segment that carried the last ones, and the kernel delays that ACK
 * (about 40 ms) while we have nothing to send: measured 44 ms per frame for a lone vehicle. Any
 * bytes we write carry the ACK at once, so after a read from the broker, when publishes still
 * await their acknowledgements and no flush is about to write, a 2-byte PINGREQ goes out. Its
 * PINGRESP may itself hold back the next PUBACKs, so a PINGRESP read nudges too, but at most
 * twice until acknowledgements arrive: a slow broker cannot draw a ping-pong at loopback speed.
 * Fewer nudges, same effect: one check per event-loop turn however many reads came (over TLS
 * each of mosquitto's PUBACKs is its own read: a nudge per read cut a lone vehicle from about
 * 3,500 to 170 records/s), and none when anything was written since the last read, since that
 * write carried the ACK (a flush, a PUBREL). A busy link (BUSY_IN_FLIGHT publishes or more
 * awaiting acknowledgement) waits a millisecond before the check: its next flush nearly always
 * comes first, which took the PINGREQs of a saturated run from 33,000 to 3,000.
 *
 * One per connection: the reads of one socket.
 */
export class Nudger {
  /** Acknowledgements and PINGRESPs in the current read. */
  acks = 0;
  pongs = 0;
  /** Nudges since acknowledgements last arrived. */
  private sinceAck = 0;
  private queued = false;
  private deferred = false;
  /** socket.bytesWritten when the last read began: more since means a write carried the ACK. */
  private writtenAtRead = 0;

  constructor(
    private readonly socket: Socket,
    private readonly link: NudgeLink,
  ) {}

  readBegins(): void {
    this.acks = 0;
    this.pongs = 0;
    this.writtenAtRead = this.socket.bytesWritten;
  }

  readEnds(): void {
    if (this.acks) this.sinceAck = 0;
    if (!this.queued && (this.acks || (this.pongs && this.sinceAck < 2))) {
      this.queued = true;
      setImmediate(this.check);
    }
  }

  private readonly check = (): void => {
    if (!this.deferred && this.link.inFlight() >= BUSY_IN_FLIGHT) {
      this.deferred = true;
      setTimeout(this.check, 1);
      return;
    }
    this.deferred = false;
    this.queued = false;
    const { socket, link } = this;
    if (!link.live(socket) || link.inFlight() === 0 || link.writePending()) return;
    if (socket.bytesWritten !== this.writtenAtRead) return;
    this.sinceAck++;
    link.nudged();
    socket.write(PINGREQ);
  };
}
