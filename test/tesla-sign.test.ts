import t from 'tap';
import { createECDH, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deterministicNonce, schnorrSign, schnorrVerify } from '../src/tesla/schnorr.js';
import { verifyToken } from '../src/tesla/token.js';
import { goJson } from '../src/tesla/go-json.js';
import { fixturesDir } from './helpers/fixtures.js';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { independentVerifyToken } from './helpers/tesla-verify.js';

const V = JSON.parse(readFileSync(join(fixturesDir(), 'tesla-vectors.json'), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');
/** The public key of a scalar by node:crypto's ECDH, apart from the code under test. */
const publicOf = (scalar: Buffer) => {
  const e = createECDH('prime256v1');
  e.setPrivateKey(scalar);
  return e.getPublicKey();
};

t.test('Schnorr: Tesla\'s signature of "hello world", byte for byte, and its verification cases', async (t) => {
  const scalar = hex(V.schnorr.scalar);
  const pub = publicOf(scalar);
  const msg = Buffer.from(V.schnorr.message);
  const sig = schnorrSign(scalar, msg);
  t.equal(sig.toString('hex'), V.schnorr.signature, 'the signature of schnorr_test.go');
  t.equal(schnorrVerify(pub, msg, sig), 'ok', 'verifies');
  const flip = (b: Buffer, i: number) => {
    const c = Buffer.from(b);
    c[i] ^= 1;
    return c;
  };
  t.equal(schnorrVerify(pub, flip(msg, 0), sig), 'invalid-signature', 'wrong message');
  t.equal(schnorrVerify(publicOf(hex(V.schnorr.otherScalar)), msg, sig), 'invalid-signature', 'wrong public key');
  t.equal(schnorrVerify(pub, msg, flip(sig, 0)), 'invalid-signature', 'nonce X not on the curve');
  t.equal(schnorrVerify(pub, msg, flip(sig, 32)), 'invalid-signature', 'nonce Y not on the curve');
  t.equal(schnorrVerify(pub, msg, flip(sig, 95)), 'invalid-signature', 'r changed');
  t.equal(schnorrVerify(flip(pub, 0), msg, sig), 'invalid-public-key', 'public key not on the curve');
  const zero = Buffer.alloc(65);
  zero[0] = 4;
  t.equal(schnorrVerify(zero, msg, sig), 'invalid-public-key', 'zero public key');
  t.equal(schnorrVerify(pub, msg, sig.subarray(0, 95)), 'invalid-signature', 'signature too short');
});

t.test('RFC 6979 nonce: the RFC vector and a rejection-sampled one', async (t) => {
  const r = V.nonce.rfc6979;
  t.equal(deterministicNonce(hex(r.scalar), createHash('sha256').update(r.message).digest()).toString('hex'), r.nonce);
  const j = V.nonce.rejection;
  t.equal(deterministicNonce(hex(j.scalar), hex(j.digest)).toString('hex'), j.nonce, 'the first candidate, above the order, is skipped');
});

t.test("Tesla's jwt_test.go token verifies, and is refused with any one character or byte changed", async (t) => {
  const pub = hex(V.jwt.publicKey);
  const token: string = V.jwt.token;
  const claims = verifyToken(token, pub);
  t.equal(claims.foo, 'bar');
  t.equal(claims.aud, V.jwt.claims.aud);
  t.equal(claims.iss, pub.toString('base64'), 'iss is the padded standard base64 of the key');
  t.ok(independentVerifyToken(token, pub).valid, 'the test verifier agrees');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let refused = 0;
  let positions = 0;
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '.') continue;
    positions++;
    const c = alphabet[(alphabet.indexOf(token[i]) + 1) % 64];
    const changed = token.slice(0, i) + c + token.slice(i + 1);
    try {
      verifyToken(changed, pub);
    } catch (err) {
      if ((err as { code?: string }).code === 'TOKEN_BAD_SIGNATURE' || (err as { code?: string }).code === 'TOKEN_MALFORMED') refused++;
    }
  }
  t.equal(refused, positions, `all ${positions} one-character changes refused`);
  const [h, c, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  for (const i of [0, 31, 32, 63, 64, 95]) {
    const bad = Buffer.from(sig);
    bad[i] ^= 0x01;
    t.throws(() => verifyToken(`${h}.${c}.${bad.toString('base64url')}`, pub), { code: 'TOKEN_BAD_SIGNATURE' }, `signature byte ${i} changed`);
  }
  const wrongKey = publicOf(hex(V.schnorr.scalar));
  t.throws(() => verifyToken(token, wrongKey), { code: 'TOKEN_BAD_SIGNATURE' }, 'another key');
});

t.test("goJson writes maps as Go's encoding/json does", async (t) => {
  t.equal(goJson({ b: 1, a: { d: [1, 'x<y>&z'], c: true }, e: null }), '{"a":{"c":true,"d":[1,"x\\u003cy\\u003e\\u0026z"]},"b":1,"e":null}');
  t.equal(goJson({ exp: 1753759258, f: 0.5 }), '{"exp":1753759258,"f":0.5}');
});

async function bodyFile(dir: string): Promise<{ file: string; config: Record<string, unknown> }> {
  const pki = await makePki(join(dir, 'pki'));
  const config = {
    hostname: 'telemetry.example.com',
    port: 4443,
    ca: pki.ca.certPem,
    exp: 1800000000,
    fields: { BatteryLevel: { interval_seconds: 300 }, Gear: { interval_seconds: 60 } },
    delivery_policy: 'latest',
  };
  const file = join(dir, 'body.json');
  writeFileSync(file, JSON.stringify({ vins: ['5YJ3E1EA7KF000001', '5YJ3E1EA7KF000002'], config }, null, 2));
  return { file, config };
}

t.test('tesla sign: a token over the config as the proxy makes it, for an openssl key', async (t) => {
  const dir = testdir(t);
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  // The key's public point as openssl sees it: the last 65 bytes of the SPKI DER.
  const pub = execFileSync('openssl', ['ec', '-in', key, '-pubout', '-outform', 'DER'], { stdio: ['ignore', 'pipe', 'ignore'] }).subarray(-65);
  const { file, config } = await bodyFile(dir);

  const r = await runCli(['tesla', 'sign', '--body', file, '--private-key', key], dir);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { vins: string[]; token: string };
  t.same(Object.keys(out), ['vins', 'token'], 'the body of fleet_telemetry_config_jws');
  t.same(out.vins, ['5YJ3E1EA7KF000001', '5YJ3E1EA7KF000002']);
  const d = independentVerifyToken(out.token, pub);
  t.ok(d.valid, "the token verifies with openssl's public key, by the independent verifier");
  t.equal(d.headerText, '{"alg":"Tesla.SS256","typ":"JWT"}');
  t.same(d.claims, { ...config, iss: pub.toString('base64'), aud: 'com.tesla.fleet.TelemetryClient' });
  const keys = Object.keys(JSON.parse(d.claimsText));
  t.same(keys, [...keys].sort(), 'claims keys sorted, as Go writes a map');
  t.notMatch(r.stdout + r.stderr, readFileSync(key, 'utf8').split('\n')[1], 'the private key is not printed');

  const again = await runCli(['tesla', 'sign', '--body', file, '--private-key', key], dir);
  t.equal(JSON.parse(again.stdout).token, out.token, 'deterministic: the same token again (RFC 6979 nonce)');

  const one = await runCli(['tesla', 'sign', '--body', file, '--private-key', key, '--vin', '5YJ3E1EA7KF000002'], dir);
  t.equal(one.code, 0, one.stderr);
  const o = JSON.parse(one.stdout) as { vins: string[]; token: string };
  t.same(o.vins, ['5YJ3E1EA7KF000002'], 'only that VIN is sent');
  const od = independentVerifyToken(o.token, pub);
  t.ok(od.valid);
  t.equal(od.claims.aud, 'com.tesla.vehicle.5YJ3E1EA7KF000002.TelemetryClient');
});

t.test('tesla sign refuses a wrong body, a wrong key and a VIN not in the body', async (t) => {
  const dir = testdir(t);
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  const p384 = join(dir, 'p384.pem');
  execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', p384]);
  const { file } = await bodyFile(dir);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ vins: ['X1'], hostname: 'a' }));
  const cases: [string[], number, RegExp][] = [
    [['--body', join(dir, 'bad.json'), '--private-key', key], 1, /not the body vehicle-config prints: "config" is not an object \[BODY_INVALID\]/],
    [['--body', join(dir, 'none.json'), '--private-key', key], 1, /cannot read it: no such file \[BODY_INVALID\]/],
    [['--body', file, '--private-key', p384], 1, /not a P-256 key \(it is an EC key on secp384r1\).*\[KEY_NOT_P256\]/],
    [['--body', file, '--private-key', key, '--vin', '5YJ3E1EA7KF000009'], 1, /--vin 5YJ3E1EA7KF000009 is not among the body's vins/],
    [['--body', file], 2, /--private-key KEY is required/],
  ];
  for (const [args, code, why] of cases) {
    const r = await runCli(['tesla', 'sign', ...args], dir);
    t.equal(r.code, code, args.join(' '));
    t.match(r.stderr, why);
    t.notMatch(r.stderr, STACK);
    t.equal(r.stdout, '', 'nothing on stdout');
  }
});
