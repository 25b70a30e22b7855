import { connect as tcpConnect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { freePort } from './ports.js';
import { saslExchange, type SaslExchange, type SaslMechanism } from './kafka-sasl.js';
import {
  API,
  KAFKA_ERROR,
  authenticateResponse,
  coordinatorThroughFront,
  cutFrames,
  frame,
  handshakeResponse,
  metadataThroughFront,
  readAuthenticate,
  readHandshake,
  readRequest,
  response,
  withSaslApis,
  type AddressMap,
  type RequestHeader,
} from './kafka-wire.js';

/**
 * A stand-in for what a Kafka broker's TLS and SASL listener checks, in front of librdkafka's
 * mock cluster (which speaks plaintext only): one listener per mock broker, TLS and/or SASL,
 * forwarding Kafka frames to its broker once the client authenticated. It answers SaslHandshake
 * and SaslAuthenticate itself, lists them in ApiVersions, and rewrites broker addresses in
 * Metadata and FindCoordinator so clients come back through it.
 */
export interface FrontOptions {
  /** The mock cluster's bootstrap servers, "host:port,host:port". */
  upstream: string;
  /** Listeners speak TLS with this certificate and key (PEM); with `clientCa`, clients must show a certificate it signed. */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Listeners require SASL with one of these mechanisms and these users (name → password). */
  sasl?: { mechanisms: readonly SaslMechanism[]; users: Readonly<Record<string, string>> };
}

export interface KafkaFront {
  /** The front's listeners, "127.0.0.1:port,…", in the order of the mock's brokers. */
  bootstrap: string;
  /** Requests forwarded to the mock, by API key. */
  forwarded(apiKey: number): number;
  /** Each authentication that succeeded: mechanism and user. */
  authenticated: { mechanism: string; user: string }[];
  /** Each client the front turned away, and why (wrong credentials, a request before authenticating). */
  refused: string[];
  /** What the front could not read (also written to stderr): a passing test has none. */
  problems: string[];
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

interface Shared {
  opts: FrontOptions;
  map: AddressMap;
  counts: Map<number, number>;
  front: KafkaFront;
}

export async function startKafkaFront(opts: FrontOptions): Promise<KafkaFront> {
  const brokers = opts.upstream.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) };
  });
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports = new Map<string, number>();
  const counts = new Map<number, number>();
  const front: KafkaFront = {
    bootstrap: '',
    forwarded: (k) => counts.get(k) ?? 0,
    authenticated: [],
    refused: [],
    problems: [],
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
  const shared: Shared = {
    opts,
    counts,
    front,
    map: (host, port) => {
      const to = ports.get(`${host}:${port}`);
      return to === undefined ? undefined : { host: HOST, port: to };
    },
  };
  try {
    for (const broker of brokers) {
      const onClient = (client: Socket) => {
        sockets.add(client);
        client.once('close', () => sockets.delete(client));
        const upstream = tcpConnect(broker.port, broker.host);
        sockets.add(upstream);
        upstream.once('close', () => sockets.delete(upstream));
        relay(client, upstream, shared);
      };
      const { tls } = opts;
      const server = tls
        ? createTlsServer(
            { cert: tls.cert, key: tls.key, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) },
            onClient,
          )
        : createTcpServer(onClient);
      // A client that refuses the certificate ends the handshake: nothing to relay.
      server.on('tlsClientError', () => {});
      servers.push(server);
      ports.set(`${broker.host}:${broker.port}`, await listen(server));
    }
  } catch (err) {
    await front.stop();
    throw err;
  }
  front.bootstrap = brokers.map((b) => `${HOST}:${ports.get(`${b.host}:${b.port}`)}`).join(',');
  return front;
}

async function listen(server: Server): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, HOST, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return port;
    } catch (err) {
      // Taken between freePort and listen: another one.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 5) throw err;
    }
  }
}

/** One client connection: requests to its broker (after SASL when required), responses back, rewritten. */
function relay(client: Socket, upstream: Socket, { opts, map, counts, front }: Shared): void {
  const pending = new Map<number, { apiKey: number; apiVersion: number }>();
  let authenticated = !opts.sasl;
  let sasl: { exchange: SaslExchange; mechanism: SaslMechanism; user: string } | undefined;
  let fromClient: Buffer = Buffer.alloc(0);
  let fromBroker: Buffer = Buffer.alloc(0);

  // Set once the client was answered and is being closed: its last reply still goes out.
  let ending = false;
  const close = () => {
    upstream.destroy();
    if (!ending) client.destroy();
  };
  // Kafka answers, then closes (a refused mechanism or credentials).
  const answerAndClose = (reply: Buffer) => {
    ending = true;
    upstream.destroy();
    client.end(reply);
  };
  const problem = (why: string) => {
    front.problems.push(why);
    console.error(`kafka front: ${why}`);
    close();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);

  const authenticate = (req: RequestHeader) => {
    const mechanisms = opts.sasl?.mechanisms ?? [];
    if (req.apiKey === API.SASL_HANDSHAKE && !sasl) {
      const mechanism = readHandshake(req) as SaslMechanism;
      if (!mechanisms.includes(mechanism)) {
        front.refused.push(`mechanism ${mechanism} not enabled`);
        return answerAndClose(response(req.correlationId, handshakeResponse(req.apiVersion, KAFKA_ERROR.UNSUPPORTED_SASL_MECHANISM, mechanisms)));
      }
      sasl = { exchange: saslExchange(mechanism, new Map(Object.entries(opts.sasl?.users ?? {}))), mechanism, user: '' };
      return void client.write(response(req.correlationId, handshakeResponse(req.apiVersion, KAFKA_ERROR.NONE, mechanisms)));
    }
    if (req.apiKey === API.SASL_AUTHENTICATE && sasl) {
      const message = readAuthenticate(req);
      if (!sasl.user) sasl.user = saslUser(sasl.mechanism, message);
      const step = sasl.exchange.step(message);
      if ('refused' in step) {
        front.refused.push(`${sasl.mechanism} ${sasl.user}: ${step.refused}`);
        return answerAndClose(
          response(req.correlationId, authenticateResponse(req.apiVersion, KAFKA_ERROR.SASL_AUTHENTICATION_FAILED, step.refused, Buffer.alloc(0))),
        );
      }
      if (step.done) {
        authenticated = true;
        front.authenticated.push({ mechanism: sasl.mechanism, user: sasl.user });
      }
      return void client.write(response(req.correlationId, authenticateResponse(req.apiVersion, KAFKA_ERROR.NONE, null, step.reply)));
    }
    // A broker closes a connection that sends anything else before it authenticated.
    front.refused.push(`api key ${req.apiKey} before SASL authentication`);
    close();
  };

  const onRequest = (message: Buffer) => {
    const req = readRequest(message);
    if (!authenticated && req.apiKey !== API.API_VERSIONS) return authenticate(req);
    if (req.apiKey === API.SASL_HANDSHAKE || req.apiKey === API.SASL_AUTHENTICATE) {
      return problem(`${opts.sasl ? 'a second SASL authentication' : 'SASL on a listener without it'} (api key ${req.apiKey}): not read by this front`);
    }
    pending.set(req.correlationId, { apiKey: req.apiKey, apiVersion: req.apiVersion });
    counts.set(req.apiKey, (counts.get(req.apiKey) ?? 0) + 1);
    upstream.write(frame(message));
  };

  const onResponse = (message: Buffer) => {
    const correlationId = message.readInt32BE(0);
    const req = pending.get(correlationId);
    if (!req) return problem(`a response with correlation id ${correlationId} that no request is waiting for`);
    pending.delete(correlationId);
    let body = message.subarray(4);
    if (req.apiKey === API.API_VERSIONS && opts.sasl) body = withSaslApis(req.apiVersion, body);
    else if (req.apiKey === API.METADATA) body = metadataThroughFront(req.apiVersion, body, map);
    else if (req.apiKey === API.FIND_COORDINATOR) body = coordinatorThroughFront(req.apiVersion, body, map);
    client.write(response(correlationId, body));
  };

  // Each side's bytes cut into frames; a frame the front cannot read ends the connection loudly.
  const consume = (handle: (m: Buffer) => void, buf: Buffer): Buffer => {
    try {
      const { frames, rest } = cutFrames(buf);
      for (const f of frames) if (!client.destroyed && !ending) handle(f);
      return Buffer.from(rest);
    } catch (err) {
      problem((err as Error).message);
      return Buffer.alloc(0);
    }
  };
  client.on('data', (chunk: Buffer) => (fromClient = consume(onRequest, Buffer.concat([fromClient, chunk]))));
  upstream.on('data', (chunk: Buffer) => (fromBroker = consume(onResponse, Buffer.concat([fromBroker, chunk]))));
}

/** The user a client's first SASL message names, for the front's record. */
function saslUser(mechanism: SaslMechanism, message: Buffer): string {
  const text = message.toString('utf8');
  if (mechanism === 'PLAIN') return text.split('\0')[1] ?? '';
  return /(?:^|,)n=([^,]*)/.exec(text.replace(/^[ny],[^,]*,/, ''))?.[1] ?? '';
}
