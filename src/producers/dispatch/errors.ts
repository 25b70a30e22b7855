/** Why a Tesla-compatible producer did not take a record; the code is the metrics' reason label. */
export type DispatchErrorCode = 'broker_unavailable' | 'connection_lost' | 'publish_timeout' | 'producer_full' | 'shutting_down' | 'publish_failed';

/**
 * A transient refusal: the frame goes unanswered and the vehicle resends it. A `publish_timeout`
 * whose sends are still in flight carries their `completion` (StillInFlight): the server then
 * answers a resend from them instead of sending the record twice.
 */
export class DispatchError extends Error {
  readonly permanent = false;
  constructor(
    readonly code: DispatchErrorCode,
    message: string,
    opts: { cause?: unknown; completion?: Promise<void> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DispatchError';
    if (opts.completion) this.completion = opts.completion;
  }
  readonly completion?: Promise<void>;
}
