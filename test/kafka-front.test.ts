import t, { type Test } from 'tap';
import { createHmac, pbkdf2Sync } from 'node:crypto';
import { connect } from 'node:net';
import { startKafkaFront } from './helpers/kafka-front.js';
import { saslExchange, scramCredential, verifyScramProof, type SaslStep } from './helpers/kafka-sasl.js';
import { API, Reader, Writer, coordinatorThroughFront, cutFrames, frame, metadataThroughFront, withSaslApis } from './helpers/kafka-wire.js';
import { startKafkaMock } from './helpers/kafka-mock.js';
import { waitUntil } from './helpers/ports.js';

// The stand-in TLS/SASL front of the Kafka tests checks what a broker checks: these show it can
// say no, so a test that passes through it means something.

// RFC 7677 §3: SCRAM-SHA-256 for user "user", password "pencil".
const RFC7677 = {
  clientFirstBare: 'n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  finalWithoutProof: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

t.test("SCRAM: RFC 7677's proof is accepted with its server signature; a changed proof is refused", async (t) => {
  const cred = scramCredential('sha256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const authMessage = `${RFC7677.clientFirstBare},${RFC7677.serverFirst},${RFC7677.finalWithoutProof}`;
  t.equal(verifyScramProof('sha256', cred, authMessage, RFC7677.proof)?.toString('base64'), RFC7677.serverSignature);
  const wrong = Buffer.from(RFC7677.proof, 'base64');
  wrong[0] ^= 1;
  t.equal(verifyScramProof('sha256', cred, authMessage, wrong.toString('base64')), undefined, 'one bit flipped: refused');
  t.equal(
    verifyScramProof('sha256', scramCredential('sha256', 'pencil2', cred.salt, 4096), authMessage, RFC7677.proof),
    undefined,
    'another password: refused',
  );
  t.equal(verifyScramProof('sha256', cred, authMessage, ''), undefined, 'no proof: refused');
});

t.test('SCRAM exchange: a client proof made with the wrong password gets SASL_AUTHENTICATION_FAILED wording', async (t) => {
  for (const [mech, hash] of [
    ['SCRAM-SHA-256', 'sha256'],
    ['SCRAM-SHA-512', 'sha512'],
  ] as const) {
    const users = new Map([['fleet', 'right']]);
    const run = (password: string): SaslStep => {
      const ex = saslExchange(mech, users);
      const first = ex.step(Buffer.from('n,,n=fleet,r=clientnonce'));
      if (!('reply' in first)) return first;
      const attrs = new Map(
        first.reply
          .toString()
          .split(',')
          .map((p) => [p[0], p.slice(2)]),
      );
      const cred = scramCredential(hash, password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')));
      const withoutProof = `c=biws,r=${attrs.get('r')}`;
      const authMessage = `n=fleet,r=clientnonce,${first.reply.toString()},${withoutProof}`;
      // The client's proof: ClientKey XOR HMAC(StoredKey, AuthMessage); ClientKey from the password.
      const salted = pbkdf2Sync(password, cred.salt, cred.iterations, hash === 'sha256' ? 32 : 64, hash);
      const clientKey = createHmac(hash, salted).update('Client Key').digest();
      const sig = createHmac(hash, cred.storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString('base64');
      return ex.step(Buffer.from(`${withoutProof},p=${proof}`));
    };
    const ok = run('right');
    t.ok('reply' in ok && ok.done && ok.reply.toString().startsWith('v='), `${mech}: the right password ends with the server signature`);
    t.same(
      run('wrong'),
      { refused: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mech}` },
      `${mech}: wrong password refused`,
    );
    t.same(
      saslExchange(mech, users).step(Buffer.from('n,,n=nobody,r=x')),
      { refused: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mech}` },
      `${mech}: unknown user refused`,
    );
  }
});

t.test('PLAIN: the password must match, and an authorization id must be the user', async (t) => {
  const users = new Map([['fleet', 'right']]);
  const step = (s: string) => saslExchange('PLAIN', users).step(Buffer.from(s));
  t.same(step('\0fleet\0right'), { reply: Buffer.alloc(0), done: true });
  t.same(step('fleet\0fleet\0right'), { reply: Buffer.alloc(0), done: true });
  t.match(step('\0fleet\0wrong'), { refused: /invalid credentials with SASL mechanism PLAIN/ });
  t.match(step('admin\0fleet\0right'), { refused: /authorization id that is different/ });
  t.match(step('fleet right'), { refused: /expected 3 tokens/ });
});

t.test('wire: ApiVersions gains SASL; Metadata of an unknown broker and unread versions are refused', async (t) => {
  const apiVersions = new Writer().int16(0).int32(1).int16(API.METADATA).int16(0).int16(2).int32(0).done();
  const out = withSaslApis(2, apiVersions);
  t.equal(out.readInt32BE(2), 3, 'Metadata, SaslHandshake and SaslAuthenticate listed');
  t.same([out.readInt16BE(12), out.readInt16BE(18)], [API.SASL_HANDSHAKE, API.SASL_AUTHENTICATE]);
  t.throws(() => withSaslApis(3, apiVersions), /ApiVersions v3: not one of the versions this front reads/);
  const metadata = new Writer().int32(1).int32(1).string('127.0.0.1').int32(9).string(null).string('c').int32(1).int32(0).done();
  t.throws(() => metadataThroughFront(2, metadata, () => undefined), /a broker at 127\.0\.0\.1:9 that the front does not stand before/);
  t.throws(() => metadataThroughFront(1, metadata, () => ({ host: 'h', port: 1 })), /Metadata v1/);
  const moved = metadataThroughFront(2, metadata, () => ({ host: 'front', port: 7 }));
  t.same(moved, new Writer().int32(1).int32(1).string('front').int32(7).string(null).string('c').int32(1).int32(0).done(), 'only the address changes');
  const coordinator = (host: string, port: number, error = 0) => new Writer().int32(0).int16(error).string(null).int32(1).string(host).int32(port).done();
  t.same(
    coordinatorThroughFront(2, coordinator('127.0.0.1', 9), () => ({ host: 'front', port: 7 })),
    coordinator('front', 7),
    'FindCoordinator: the address changes',
  );
  t.same(
    coordinatorThroughFront(2, coordinator('', -1, 15), () => undefined),
    coordinator('', -1, 15),
    'FindCoordinator: an error answer as it is',
  );
  t.throws(() => coordinatorThroughFront(0, coordinator('127.0.0.1', 9), () => undefined), /FindCoordinator v0/);
});

/** A PLAIN-only front before a one-broker mock, and a bare socket to it that keeps what arrives. */
async function rawClient(t: Test) {
  const mock = await startKafkaMock(1);
  t.teardown(() => mock.stop());
  const front = await startKafkaFront({ upstream: mock.bootstrap, sasl: { mechanisms: ['PLAIN'], users: { fleet: 'right' } } });
  t.teardown(() => front.stop());
  const [host, port] = front.bootstrap.split(':');
  const socket = connect(Number(port), host);
  t.teardown(() => socket.destroy());
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  const closed = new Promise((r) => socket.once('close', r));
  return { front, socket, got, closed };
}

t.test('a request other than ApiVersions before SASL authentication: the connection is closed', async (t) => {
  const { front, socket, got, closed } = await rawClient(t);
  // ApiVersions v2 is answered (with SASL listed), then Metadata v2 ends the connection.
  const header = (api: number, corr: number) => new Writer().int16(api).int16(2).int32(corr).string('probe').done();
  socket.write(frame(header(API.API_VERSIONS, 1)));
  await waitUntil(() => cutFrames(Buffer.concat(got)).frames.length === 1, 10_000, 'the ApiVersions answer');
  socket.write(frame(Buffer.concat([header(API.METADATA, 2), new Writer().int32(-1).done()])));
  await closed;
  const { frames } = cutFrames(Buffer.concat(got));
  t.equal(frames.length, 1, 'one answer: ApiVersions');
  const answer = new Reader(frames[0]);
  t.equal(answer.int32(), 1, 'to correlation id 1');
  t.equal(answer.int16(), 0, 'no error');
  const apis = Array.from({ length: answer.int32() }, () => [answer.int16(), answer.int16(), answer.int16()]);
  t.same(
    apis.filter(([k]) => k === API.SASL_HANDSHAKE || k === API.SASL_AUTHENTICATE),
    [
      [API.SASL_HANDSHAKE, 0, 1],
      [API.SASL_AUTHENTICATE, 0, 1],
    ],
    'SaslHandshake and SaslAuthenticate listed',
  );
  t.ok(
    apis.some(([k]) => k === API.PRODUCE),
    "the mock's own APIs kept",
  );
  t.same(front.refused, ['api key 3 before SASL authentication']);
  t.equal(front.forwarded(API.METADATA), 0, 'the Metadata request never reached the broker');
  t.same(front.problems, []);
});

t.test('a mechanism the listener does not offer: UNSUPPORTED_SASL_MECHANISM with the offered ones, then closed', async (t) => {
  const { front, socket, got, closed } = await rawClient(t);
  socket.write(frame(new Writer().int16(API.SASL_HANDSHAKE).int16(1).int32(5).string('probe').string('SCRAM-SHA-256').done()));
  await closed;
  const { frames } = cutFrames(Buffer.concat(got));
  t.equal(frames.length, 1, 'one answer');
  const answer = new Reader(frames[0]);
  t.equal(answer.int32(), 5, 'to correlation id 5');
  t.equal(answer.int16(), 33, 'UNSUPPORTED_SASL_MECHANISM');
  t.same(
    Array.from({ length: answer.int32() }, () => answer.string()),
    ['PLAIN'],
    'the mechanisms it offers',
  );
  t.same(front.refused, ['mechanism SCRAM-SHA-256 not enabled']);
});
