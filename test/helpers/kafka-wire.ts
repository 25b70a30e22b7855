/**
 * The few pieces of the Kafka protocol a front of a broker reads and writes: frames (int32
 * length, then the message), request headers (v1: the only kind kafkajs sends), and the
 * responses it answers or rewrites, each in the versions kafkajs negotiates with librdkafka's
 * mock cluster. Any other version is refused by a thrown Error, never guessed at.
 */

export const API = { PRODUCE: 0, METADATA: 3, FIND_COORDINATOR: 10, SASL_HANDSHAKE: 17, API_VERSIONS: 18, SASL_AUTHENTICATE: 36 } as const;

export const KAFKA_ERROR = { NONE: 0, UNSUPPORTED_SASL_MECHANISM: 33, ILLEGAL_SASL_STATE: 34, SASL_AUTHENTICATION_FAILED: 58 } as const;

/** The versions of SaslHandshake and SaslAuthenticate the front offers (kafkajs knows 0 and 1 of each). */
export const SASL_VERSIONS = { min: 0, max: 1 } as const;

/** Whole frames cut from `buf` (without their length), and the bytes of the next one so far. */
export function cutFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= 4) {
    const len = buf.readInt32BE(at);
    if (len < 0) throw new Error(`negative Kafka frame length ${len}`);
    if (buf.length - at - 4 < len) break;
    frames.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { frames, rest: buf.subarray(at) };
}

export function frame(body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}
  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  string(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const s = this.buf.toString('utf8', this.at, this.at + len);
    this.at += len;
    return s;
  }
  bytes(): Buffer {
    const len = this.int32();
    const b = this.buf.subarray(this.at, this.at + Math.max(0, len));
    this.at += Math.max(0, len);
    return b;
  }
  rest(): Buffer {
    return this.buf.subarray(this.at);
  }
}

export class Writer {
  private parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }
  bytes(b: Buffer): this {
    return this.int32(b.length).raw(b);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The request's own fields. */
  body: Reader;
}

/** Request header v1: api_key, api_version, correlation_id, client_id. */
export function readRequest(message: Buffer): RequestHeader {
  const r = new Reader(message);
  return { apiKey: r.int16(), apiVersion: r.int16(), correlationId: r.int32(), clientId: r.string(), body: r };
}

/** A response message: correlation_id (response header v0), then the body. */
export function response(correlationId: number, body: Buffer): Buffer {
  return frame(new Writer().int32(correlationId).raw(body).done());
}

function only(what: string, version: number, known: readonly number[]): void {
  if (!known.includes(version)) throw new Error(`${what} v${version}: not one of the versions this front reads (${known.join(', ')})`);
}

/**
 * ApiVersions response v2 (error_code, [api_key min max], throttle_time_ms) with SaslHandshake
 * and SaslAuthenticate added: the mock knows neither, and kafkajs uses SaslAuthenticate only when
 * it is listed.
 */
export function withSaslApis(version: number, body: Buffer): Buffer {
  only('ApiVersions', version, [2]);
  const r = new Reader(body);
  const error = r.int16();
  if (error !== KAFKA_ERROR.NONE) return body;
  const n = r.int32();
  const apis: [number, number, number][] = [];
  for (let i = 0; i < n; i++) apis.push([r.int16(), r.int16(), r.int16()]);
  const kept = apis.filter(([k]) => k !== API.SASL_HANDSHAKE && k !== API.SASL_AUTHENTICATE);
  kept.push([API.SASL_HANDSHAKE, SASL_VERSIONS.min, SASL_VERSIONS.max], [API.SASL_AUTHENTICATE, SASL_VERSIONS.min, SASL_VERSIONS.max]);
  const w = new Writer().int16(error).int32(kept.length);
  for (const [k, min, max] of kept) w.int16(k).int16(min).int16(max);
  return w.raw(r.rest()).done();
}

/** Where clients should go instead of a broker's own address; undefined for an address it does not know. */
export type AddressMap = (host: string, port: number) => { host: string; port: number } | undefined;

function mapped(map: AddressMap, host: string | null, port: number): { host: string; port: number } {
  const to = map(host ?? '', port);
  if (!to) throw new Error(`a broker at ${host}:${port} that the front does not stand before`);
  return to;
}

/**
 * Metadata response v2 (brokers [node_id host port rack], cluster_id, controller_id, topics…)
 * with each broker's address replaced: clients then reconnect through the front.
 */
export function metadataThroughFront(version: number, body: Buffer, map: AddressMap): Buffer {
  only('Metadata', version, [2]);
  const r = new Reader(body);
  const n = r.int32();
  const w = new Writer().int32(n);
  for (let i = 0; i < n; i++) {
    const node = r.int32();
    const to = mapped(map, r.string(), r.int32());
    w.int32(node).string(to.host).int32(to.port).string(r.string());
  }
  return w.raw(r.rest()).done();
}

/** FindCoordinator response v1/v2 (throttle_time_ms, error_code, error_message, node_id, host, port) through the front. */
export function coordinatorThroughFront(version: number, body: Buffer, map: AddressMap): Buffer {
  only('FindCoordinator', version, [1, 2]);
  const r = new Reader(body);
  const throttle = r.int32();
  const error = r.int16();
  const message = r.string();
  const node = r.int32();
  const host = r.string();
  const port = r.int32();
  // An error answer carries no coordinator (node -1): nothing to map.
  const to = error === KAFKA_ERROR.NONE ? mapped(map, host, port) : { host: host ?? '', port };
  return new Writer().int32(throttle).int16(error).string(message).int32(node).string(to.host).int32(to.port).raw(r.rest()).done();
}

/** SaslHandshake response v1: error_code, [mechanism]. (After v0 the client sends bare SASL tokens, which this front does not read.) */
export function handshakeResponse(version: number, error: number, mechanisms: readonly string[]): Buffer {
  only('SaslHandshake', version, [1]);
  const w = new Writer().int16(error).int32(mechanisms.length);
  for (const m of mechanisms) w.string(m);
  return w.done();
}

/** SaslAuthenticate response v0/v1: error_code, error_message, auth_bytes (v1: session_lifetime_ms, 0 = no re-authentication). */
export function authenticateResponse(version: number, error: number, message: string | null, authBytes: Buffer): Buffer {
  only('SaslAuthenticate', version, [0, 1]);
  const w = new Writer().int16(error).string(message).bytes(authBytes);
  if (version >= 1) w.int64(0n);
  return w.done();
}

/** SaslHandshake request v1: the mechanism. SaslAuthenticate request v0/v1: auth_bytes. */
export function readHandshake(req: RequestHeader): string {
  only('SaslHandshake', req.apiVersion, [1]);
  return req.body.string() ?? '';
}

export function readAuthenticate(req: RequestHeader): Buffer {
  only('SaslAuthenticate', req.apiVersion, [0, 1]);
  return req.body.bytes();
}
