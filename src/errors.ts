/**
 * The project's coded errors, in one catalogue: a stable `code` an operator, a log query or a
 * test can match on, the underlying `cause` (ES2022), and `permanent`, whether trying the same
 * thing again can help. Permanence belongs to the code, so every error of a type agrees.
 *
 * The frame path (server → envelope → record → publish → producers → ack) fails one way: by
 * throwing one of these errors, or rejecting with one. Producers are plugins whose `produce`
 * returns a promise, so a rejection is already their contract; the synchronous steps throw the
 * same errors, and the session picks the vehicle's answer in one place from `permanent` (an error
 * response) or not (silence: the vehicle resends). A good frame allocates no result wrapper; only
 * a bad one pays for an Error.
 */
export const ERROR_CODES = {
  // Tesla's side: keys, tokens, the Fleet API (shown as `[CODE]` by the tesla commands).
  KEY_UNREADABLE: { permanent: true, about: 'the key file cannot be read' },
  KEY_NOT_PEM: { permanent: true, about: 'the file holds no PEM key' },
  KEY_ENCRYPTED: { permanent: true, about: 'the key is encrypted' },
  KEY_NOT_PRIVATE: { permanent: true, about: 'the file holds no private key' },
  KEY_NOT_P256: { permanent: true, about: 'the key is not on the P-256 curve' },
  KEY_EXISTS: { permanent: true, about: 'a key is already there' },
  TOKEN_MALFORMED: { permanent: true, about: 'the token is not a Tesla.SS256 JWT' },
  TOKEN_BAD_SIGNATURE: { permanent: true, about: 'the token signature does not verify' },
  BODY_INVALID: { permanent: true, about: 'the request body is not a fleet_telemetry_config body' },
  // An HTTP refusal is permanent unless the server was busy (HttpRefusal); no answer is not.
  FLEET_API_HTTP: { permanent: true, about: 'the Fleet API answered with an error' },
  FLEET_API_NETWORK: { permanent: false, about: 'the Fleet API could not be reached' },
  AUTH_FAILED: { permanent: false, about: "Tesla's OAuth server refused or could not be reached" },
  AUTH_STATE: { permanent: true, about: 'the OAuth redirect did not come from this login' },
  TOKEN_STORE: { permanent: true, about: 'the token file cannot be used' },

  // The frame path. Permanent: the frame is wrong in itself, the vehicle gets an error response.
  frame_unreadable: { permanent: true, about: 'the frame is not a readable envelope' },
  undecodable_payload: { permanent: true, about: 'the payload is not a protobuf of its record type' },
  record_invalid: { permanent: true, about: 'the record can never be produced' },
  packet_invalid: { permanent: true, about: 'a value the MQTT encoder cannot put on the wire' },
  // Not permanent: the record was not taken this time; no response, the vehicle resends.
  broker_unavailable: { permanent: false, about: 'the broker or cluster is not reachable' },
  connection_lost: { permanent: false, about: 'the connection dropped before the record was acknowledged' },
  publish_timeout: { permanent: false, about: 'the record was not acknowledged in time' },
  producer_full: { permanent: false, about: 'the producer holds as much as it may' },
  shutting_down: { permanent: false, about: 'the server is stopping' },
  publish_failed: { permanent: false, about: 'the broker refused the publish' },
  dispatch_timeout: { permanent: false, about: 'a producer did not settle within its deadline' },
  presence_not_published: { permanent: false, about: 'a presence record was not published' },
  derived_unavailable: { permanent: true, about: 'no producer publishes derived values' },
  pin_mismatch: { permanent: true, about: "the broker's public key does not match its pin" },

  // Starting and configuring: the operator acts, nothing is retried.
  config_invalid: { permanent: true, about: 'the configuration has problems' },
  json_syntax: { permanent: true, about: 'the text is not valid JSON' },
  kafka_config: { permanent: true, about: 'the kafka settings cannot be used' },
  zmq_key_invalid: { permanent: true, about: 'a zmq CURVE key file cannot be used' },
  driver_score_options: { permanent: true, about: 'an option of the driver-score plugin is wrong' },
  plugin_unloadable: { permanent: true, about: 'a producer module cannot be imported' },
  start_failed: { permanent: true, about: 'the server cannot start as configured' },
  fleet_token_unreadable: { permanent: true, about: 'the fleet view token file cannot be read' },
  fleet_token_short: { permanent: true, about: 'the fleet view token is too short' },
  usage: { permanent: true, about: 'the command line is wrong' },
  producer_contract_failed: { permanent: true, about: 'a producer failed a check of the contract kit' },
} as const satisfies Record<string, { permanent: boolean; about: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Every error this project throws on purpose. `name` is the class name, `cause` kept. */
export class FleetTelemetryError extends Error {
  readonly code: ErrorCode;
  readonly permanent: boolean;
  constructor(code: ErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts); // ES2022: `cause` is set only when opts has one
    this.name = new.target.name;
    this.code = code;
    this.permanent = ERROR_CODES[code].permanent;
  }
}

export const isCoded = (err: unknown, code?: ErrorCode): err is FleetTelemetryError =>
  err instanceof FleetTelemetryError && (code === undefined || err.code === code);

/**
 * Whether a record's failure can never be helped by a resend. A producer plugin may reject with
 * an error made by another copy of this package, or its own error with `permanent: true`
 * (docs/plugins.md §2.4): outside the catalogue the plugin contract's property decides.
 */
export function isPermanent(err: unknown): boolean {
  if (err instanceof FleetTelemetryError) return err.permanent;
  return typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
}

/** An HTTP answer refusing a request: permanent unless the server was busy (429 or 5xx). */
export class HttpRefusal extends FleetTelemetryError {
  declare readonly code: 'FLEET_API_HTTP' | 'AUTH_FAILED';
  override readonly permanent: boolean;
  constructor(
    code: 'FLEET_API_HTTP' | 'AUTH_FAILED',
    readonly status: number,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(code, message, opts);
    this.permanent = status !== 429 && status < 500;
  }
}

// ---- The frame path ----

/** How a frame fails to read (docs/protocol.md §2); the detail of frame_unreadable. */
export type ReadErrorCode = 'empty' | 'truncated' | 'bad_offset' | 'no_message' | 'bad_stream';

/** A WebSocket message that is no readable Envelope: an error response with an empty txid. */
export class UnreadableFrame extends FleetTelemetryError {
  declare readonly code: 'frame_unreadable';
  declare readonly permanent: true;
  constructor(
    readonly flaw: ReadErrorCode,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super('frame_unreadable', message, opts);
  }
}

/** A payload of a known record type that is not a valid protobuf of its message (docs/protocol.md §3.6). */
export class DecodeError extends FleetTelemetryError {
  declare readonly code: 'undecodable_payload';
  declare readonly permanent: true;
  constructor(message: string, opts?: { cause?: unknown }) {
    super('undecodable_payload', message, opts);
  }
}

/**
 * A record that can never be produced, whatever is retried (a topic level over its limit, a
 * packet the broker could never take). The vehicle gets an error response naming `message`, so
 * it stops resending; every other rejection means "no response, resend". Part of the plugin API.
 */
export class InvalidRecord extends FleetTelemetryError {
  declare readonly code: 'record_invalid';
  declare readonly permanent: true;
  constructor(message: string, opts?: { cause?: unknown }) {
    super('record_invalid', message, opts);
  }
}

/** A level that cannot be published: the record is wrong in itself (error response, no resend). */
export class TopicLevelError extends InvalidRecord {}

/** Why a producer did not take a record this time; the code is the metrics' reason label. */
export type DispatchErrorCode = 'broker_unavailable' | 'connection_lost' | 'publish_timeout' | 'producer_full' | 'shutting_down' | 'publish_failed';

/**
 * A transient refusal: the frame goes unanswered and the vehicle resends it. A `publish_timeout`
 * whose sends are still in flight carries their `completion` (StillInFlight): the server then
 * answers a resend from them instead of sending the record twice.
 */
export class DispatchError extends FleetTelemetryError {
  declare readonly code: DispatchErrorCode;
  declare readonly permanent: false;
  readonly completion?: Promise<void>;
  constructor(code: DispatchErrorCode, message: string, opts: { cause?: unknown; completion?: Promise<void> } = {}) {
    super(code, message, opts);
    if (opts.completion) this.completion = opts.completion;
  }
}

/** A producer that did not settle within the dispatcher's own deadline. */
export class DispatchTimeout extends FleetTelemetryError {
  declare readonly code: 'dispatch_timeout';
  declare readonly permanent: false;
  constructor(message: string, opts?: { cause?: unknown }) {
    super('dispatch_timeout', message, opts);
  }
}
