/**
 * What a Tesla-compatible producer counts, read by the server's /metrics at scrape time (the
 * per-record path only bumps numbers). One per producer; the names follow Tesla's per-dispatcher
 * metrics (`<name>_publish_total`, `_publish_total_bytes`, `_err`) under one set of series
 * labelled by producer.
 */
export class DispatchTally {
  /** Messages the server confirmed (Redis: PUBLISH answered; ZMQ: taken by the socket), by record type. */
  readonly sent = new Map<string, number>();
  /** Bytes of those messages' values, by record type. */
  readonly sentBytes = new Map<string, number>();
  /** Records not taken, by reason (a stable code such as `connection_lost`, `publish_timeout`). */
  readonly failed = new Map<string, number>();
  /** Records handed over and not answered yet. */
  inFlight = 0;
  /** Connections made after the first one. */
  reconnects = 0;

  recordSent(recordType: string, bytes: number, messages = 1): void {
    this.sent.set(recordType, (this.sent.get(recordType) ?? 0) + messages);
    this.sentBytes.set(recordType, (this.sentBytes.get(recordType) ?? 0) + bytes);
  }

  recordFailed(reason: string): void {
    this.failed.set(reason, (this.failed.get(reason) ?? 0) + 1);
  }
}

/** A producer that keeps a DispatchTally; `connected` is whether it can reach its server now. */
export interface TalliedProducer {
  readonly tally: DispatchTally;
  connected(): boolean;
}

export function isTallied(p: unknown): p is TalliedProducer {
  return typeof p === 'object' && p !== null && (p as { tally?: unknown }).tally instanceof DispatchTally;
}
