import type { Socket } from 'node:net';
import { PINGREQ } from './packets.js';

/** Publishes awaiting acknowledgement from which a link counts as busy. */
const BUSY_IN_FLIGHT = 64;

/** Unanswered PINGREQs below which a nudge goes at once rather than a millisecond later. */
const PROMPT_PINGS = 2;

/** What a nudge needs to know of its link. */
export interface NudgeLink {
  /** Publishes awaiting acknowledgement. */
  inFlight(): number;
  /** A flush is about to write (it will carry the ACK). */
  writePending(): boolean;
  /** The connection is up and still this socket's. */
  live(socket: Socket): boolean;
  /** A PINGREQ was written to end a stall (keep-alive bookkeeping, counts). */
  nudged(): void;
}

/**
 * A broker with Nagle's algorithm on (mosquitto's default) holds its next small segment until our
 * kernel acknowledges the last one, and the kernel delays that ACK (about 40 ms) while we have
 * nothing to send: 44 ms per frame for a lone vehicle. Any bytes we write carry the ACK at once,
 * so after a read from the broker, while publishes still await acknowledgement, nothing was
 * written since that read began and no flush is about to write, a 2-byte PINGREQ goes out.
 *
 * What the broker sends after a read cannot be known, so every read nudges but one: a read whose
 * PINGRESPs (and no acknowledgements) answer a PINGREQ written after everything else we wrote.
 * A broker that answers in order has then sent every acknowledgement it owes for our stream, so
 * more nudges could only ping-pong with a broker that acks late (nats-server, RabbitMQ): the
 * chain stops there, while acknowledgements still arriving nudge again. Pongs of PINGREQs older
 * than our last write (one frame's leftovers, queued ahead of the next frame's PUBACKs) do not
 * stop it: counting nudges instead let three such reads end the chain and stall 7 % of a lone
 * vehicle's frames (issue #29). Each PINGRESP answers the oldest PINGREQ unanswered, so the
 * keep-alive's PINGREQ goes through here too and learns which PINGRESP is its own.
 *
 * Fewer nudges, same effect: one check per event-loop turn however many reads came (over TLS each
 * of mosquitto's PUBACKs is its own read), and none when anything was written since the last
 * read, since that write carried the ACK (a flush, a PUBREL). The check waits a millisecond
 * (never the 40 ms) on a busy link (BUSY_IN_FLIGHT publishes or more awaiting acknowledgement:
 * its next flush nearly always comes first, which took the PINGREQs of a saturated run from
 * 33,000 to 3,000) and while PROMPT_PINGS PINGREQs are unanswered: a broker that lags behind
 * our stream otherwise answers one packet per round trip, and each nudge queues one more
 * PINGREQ ahead of the next record (up to 44 per lone record, measured).
 *
 * One per connection: the reads of one socket.
 */
export class Nudger {
  /** Acknowledgements read since the last check. */
  acks = 0;
  /** PINGRESPs read since the last check; whether the last of them ended the chain. */
  private pongs = 0;
  private chainEnds = false;
  /** PINGREQs written and PINGRESPs read on this connection. */
  private sent = 0;
  private answered = 0;
  /** Bytes the PINGREQs took: socket.bytesWritten less these is everything else we wrote. */
  private pingBytes = 0;
  /** Everything else written when the last PINGREQ went, and the first PINGREQ written after it. */
  private lastMark = -1;
  private runStart = 0;
  /** The keep-alive's last PINGREQ. */
  private keepAlive = 0;
  private queued = false;
  private deferred = false;
  /** socket.bytesWritten when the last read began: more since means a write carried the ACK. */
  private writtenAtRead = 0;

  constructor(
    private readonly socket: Socket,
    private readonly link: NudgeLink,
  ) {}

  /** Writes a PINGREQ and notes where it falls among our writes; `keepAlive` for the link's own. */
  ping(keepAlive = false): void {
    const { socket } = this;
    const before = socket.bytesWritten;
    const mark = before - this.pingBytes;
    if (mark !== this.lastMark) {
      this.lastMark = mark;
      this.runStart = this.sent + 1;
    }
    this.sent++;
    if (keepAlive) this.keepAlive = this.sent;
    socket.write(PINGREQ);
    this.pingBytes += socket.bytesWritten - before;
  }

  /** A PINGRESP was read; true when it (or an earlier one) answered the keep-alive's PINGREQ. */
  pong(): boolean {
    // A PINGRESP we did not ask for answers nothing of ours.
    if (this.answered < this.sent) this.answered++;
    this.pongs++;
    this.chainEnds = this.answered >= this.runStart && this.lastMark === this.socket.bytesWritten - this.pingBytes;
    return this.answered >= this.keepAlive;
  }

  readBegins(): void {
    this.writtenAtRead = this.socket.bytesWritten;
  }

  readEnds(): void {
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.check);
    }
  }

  private readonly check = (): void => {
    // With PINGREQs already unanswered the broker is behind our stream: a nudge at once would
    // draw one small segment per round trip, each adding a PINGREQ it must answer before the next
    // record's PUBACKs. A millisecond lets its replies gather into fewer, larger segments.
    if (!this.deferred && (this.link.inFlight() >= BUSY_IN_FLIGHT || this.sent - this.answered >= PROMPT_PINGS)) {
      this.deferred = true;
      setTimeout(this.check, 1);
      return;
    }
    this.deferred = false;
    this.queued = false;
    const ended = this.pongs > 0 && this.chainEnds && this.acks === 0;
    this.acks = 0;
    this.pongs = 0;
    const { socket, link } = this;
    if (ended || !link.live(socket) || link.inFlight() === 0 || link.writePending()) return;
    if (socket.bytesWritten !== this.writtenAtRead) return;
    link.nudged();
    this.ping();
  };
}
