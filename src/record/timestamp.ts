import { Wire } from './wire.js';
import type { Instant } from './types.js';

/** google.protobuf.Timestamp from the wire. */
export function readTimestamp(buf: Uint8Array, start: number, end: number): Instant {
  const w = new Wire(buf, start, end);
  let seconds = 0n;
  let nanos = 0;
  while (w.pos < end) {
    const tag = w.varint();
    const id = tag >>> 3;
    const wt = tag & 7;
    if (id === 1 && wt === 0) {
      const lo = w.varint();
      seconds = BigInt.asIntN(64, (BigInt(w.hi >>> 0) << 32n) | BigInt(lo));
    } else if (id === 2 && wt === 0) nanos = w.varint() | 0;
    else w.skip(wt);
  }
  return { seconds, nanos };
}

/** Alerts sent with a millisecond count in the seconds field (docs/protocol.md §4). */
const MS_THRESHOLD = 315_576_000_000n;

export function alertInstant(t: Instant): Instant {
  if (t.seconds < MS_THRESHOLD) return t;
  const ms = t.seconds;
  return { seconds: ms / 1000n, nanos: Number(ms % 1000n) * 1_000_000 + t.nanos };
}

/** Ordering of two instants: negative, zero or positive. */
export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos - b.nanos;
}

const MAX_DATE_SECONDS = 8_640_000_000_000n;

/**
 * RFC 3339 in UTC to the second (`2023-11-14T22:13:20Z`). Years outside 0000–9999 cannot be
 * written in RFC 3339; they come out as undefined and the key is left out.
 */
export function rfc3339(t: Instant): string | undefined {
  if (t.seconds > MAX_DATE_SECONDS || t.seconds < -MAX_DATE_SECONDS) return undefined;
  const d = new Date(Number(t.seconds) * 1000);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) return undefined;
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return iso.slice(0, 19) + 'Z';
}
