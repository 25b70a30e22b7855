/**
 * The project's coded errors: a stable `code` an operator or a test can match on, the
 * underlying `cause`, and whether trying again can help (`permanent`).
 */
export const ERROR_CODES = {
  KEY_UNREADABLE: 'the key file cannot be read',
  KEY_NOT_PEM: 'the file holds no PEM key',
  KEY_ENCRYPTED: 'the key is encrypted',
  KEY_NOT_PRIVATE: 'the file holds no private key',
  KEY_NOT_P256: 'the key is not on the P-256 curve',
  KEY_EXISTS: 'a key is already there',
  TOKEN_MALFORMED: 'the token is not a Tesla.SS256 JWT',
  TOKEN_BAD_SIGNATURE: 'the token signature does not verify',
  BODY_INVALID: 'the request body is not a fleet_telemetry_config body',
  FLEET_API_HTTP: 'the Fleet API answered with an error',
  FLEET_API_NETWORK: 'the Fleet API could not be reached',
  AUTH_FAILED: "Tesla's OAuth server refused or could not be reached",
  AUTH_STATE: 'the OAuth redirect did not come from this login',
  TOKEN_STORE: 'the token file cannot be used',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FleetTelemetryError extends Error {
  readonly code: ErrorCode;
  readonly permanent: boolean;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; permanent?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FleetTelemetryError';
    this.code = code;
    this.permanent = opts.permanent ?? true;
  }
}

export const isCoded = (err: unknown, code?: ErrorCode): err is FleetTelemetryError =>
  err instanceof FleetTelemetryError && (code === undefined || err.code === code);
