import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The broker's side of Kafka's SASL mechanisms: PLAIN (RFC 4616) and SCRAM-SHA-256/512
 * (RFC 5802, RFC 7677, as KIP-84 puts them in Kafka). Pure: bytes in, bytes out.
 */
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** One client message answered: the bytes to send back, whether the client is now authenticated, or why it is refused. */
export type SaslStep = { reply: Buffer; done: boolean } | { refused: string };

export interface SaslExchange {
  step(message: Buffer): SaslStep;
}

/** Kafka's wording when credentials do not match (SASL_AUTHENTICATION_FAILED). */
export function invalidCredentials(mechanism: SaslMechanism): string {
  return `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
}

/** The iterations Kafka uses by default for SCRAM credentials, and kafkajs's minimum. */
const SCRAM_ITERATIONS = 4096;

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** A new exchange for one connection's authentication by `mechanism` against `users` (name → password). */
export function saslExchange(mechanism: SaslMechanism, users: ReadonlyMap<string, string>): SaslExchange {
  return mechanism === 'PLAIN' ? plainExchange(users) : scramExchange(mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', mechanism, users);
}

function plainExchange(users: ReadonlyMap<string, string>): SaslExchange {
  return {
    step(message) {
      // authzid NUL authcid NUL passwd; Kafka takes an authzid only when it names the same user.
      const parts = message.toString('utf8').split('\0');
      if (parts.length !== 3) return { refused: 'Invalid SASL/PLAIN response: expected 3 tokens' };
      const [authzid, user, password] = parts;
      if (authzid !== '' && authzid !== user) return { refused: 'Authentication failed: Client requested an authorization id that is different from username' };
      const want = users.get(user);
      if (want === undefined || !sameBytes(Buffer.from(want), Buffer.from(password))) return { refused: invalidCredentials('PLAIN') };
      return { reply: Buffer.alloc(0), done: true };
    },
  };
}

/** The attributes of a SCRAM message ("n=user,r=nonce"), by their letter. */
export function scramAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0], part.slice(2));
  }
  return out;
}

/** What a server stores for a SCRAM user (RFC 5802 §3): never the password itself. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export function scramCredential(hash: 'sha256' | 'sha512', password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): ScramCredential {
  const salted = pbkdf2Sync(password, salt, iterations, hash === 'sha256' ? 32 : 64, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  return {
    salt,
    iterations,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: createHmac(hash, salted).update('Server Key').digest(),
  };
}

/**
 * Whether `proof` (base64) proves the password behind `cred` for `authMessage`: the client key
 * is recovered as proof XOR ClientSignature, and its hash must be the stored key. Returns the
 * server signature to send when it does.
 */
export function verifyScramProof(hash: 'sha256' | 'sha512', cred: ScramCredential, authMessage: string, proof: string): Buffer | undefined {
  const clientSignature = createHmac(hash, cred.storedKey).update(authMessage).digest();
  const given = Buffer.from(proof, 'base64');
  if (given.length !== clientSignature.length) return undefined;
  const clientKey = Buffer.from(given.map((b, i) => b ^ clientSignature[i]));
  if (!sameBytes(createHash(hash).update(clientKey).digest(), cred.storedKey)) return undefined;
  return createHmac(hash, cred.serverKey).update(authMessage).digest();
}

function scramExchange(hash: 'sha256' | 'sha512', mechanism: SaslMechanism, users: ReadonlyMap<string, string>): SaslExchange {
  let first: { bare: string; gs2: string; serverFirst: string; nonce: string; cred: ScramCredential } | undefined;
  return {
    step(message) {
      const text = message.toString('utf8');
      if (!first) {
        // client-first: gs2 header ("n,," or "n,a=authzid,"), then n=user,r=nonce.
        const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(text);
        if (!m) return { refused: `Invalid SCRAM client first message: ${text}` };
        const attrs = scramAttributes(m[3]);
        const user = (attrs.get('n') ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=');
        const clientNonce = attrs.get('r');
        if (!clientNonce) return { refused: 'Invalid SCRAM client first message: no nonce' };
        const password = users.get(user);
        if (password === undefined) return { refused: invalidCredentials(mechanism) };
        const nonce = clientNonce + randomBytes(18).toString('base64');
        const cred = scramCredential(hash, password, randomBytes(16));
        const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
        first = { bare: m[3], gs2: `${m[1]},${m[2] ?? ''},`, serverFirst, nonce, cred };
        return { reply: Buffer.from(serverFirst), done: false };
      }
      // client-final: c=base64(gs2 header),r=nonce,p=proof.
      const at = text.lastIndexOf(',p=');
      if (at < 0) return { refused: 'Invalid SCRAM client final message: no proof' };
      const withoutProof = text.slice(0, at);
      const attrs = scramAttributes(withoutProof);
      if (attrs.get('r') !== first.nonce) return { refused: 'Invalid SCRAM client final message: nonce mismatch' };
      if (attrs.get('c') !== Buffer.from(first.gs2).toString('base64')) return { refused: 'Invalid SCRAM client final message: channel binding mismatch' };
      const authMessage = `${first.bare},${first.serverFirst},${withoutProof}`;
      const signature = verifyScramProof(hash, first.cred, authMessage, text.slice(at + 3));
      if (!signature) return { refused: invalidCredentials(mechanism) };
      return { reply: Buffer.from(`v=${signature.toString('base64')}`), done: true };
    },
  };
}
