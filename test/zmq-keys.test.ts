import t from 'tap';
import type { Test } from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { curvePublicKey } from '../src/producers/zmq/curve.js';
import { z85Decode, z85Encode } from '../src/producers/zmq/z85.js';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { freePort } from './helpers/ports.js';

// The zmq producer's CURVE key files (Tesla's server_key_json_path and
// allowed_public_keys_json_path): check-config refuses a file serve could not use, and serve
// does not start with one.

// Each case is a fresh node process or two (~1 s each on a small machine).
t.setTimeout(180_000);

t.test('z85 and the public key of a secret agree with libzmq (zeromq curveKeyPair)', async (t) => {
  for (let i = 0; i < 20; i++) {
    const pair = curveKeyPair();
    const secret = z85Decode(pair.secretKey);
    if (!('bytes' in secret)) throw new Error(secret.reason);
    t.equal(z85Encode(secret.bytes), pair.secretKey, 'z85 text → bytes → the same text');
    t.equal(z85Encode(curvePublicKey(secret.bytes)), pair.publicKey, "the public key derived from the secret is libzmq's");
  }
  t.same(z85Decode('abcd~'), { reason: '"~" at position 5 is not a Z85 character' });
  t.same(z85Decode('#####'), { reason: 'characters 1-5 do not encode 4 bytes' });
  t.same(z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), 'HelloWorld', "RFC 32's example");
});

/** A config routing V to zmq with the given key files (paths relative to the config), in a fresh dir. */
async function setup(t: Test, files: Record<string, string>, zmqKeys: Record<string, string>): Promise<string> {
  const dir = testdir(t);
  const pki = await makePki(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const config = {
    host: '127.0.0.1',
    port: 0,
    json_log_enable: true,
    workers: 1,
    records: { V: ['zmq'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    zmq: { addr: `tcp://127.0.0.1:${await freePort()}`, ...zmqKeys },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

const good = curveKeyPair();
const other = curveKeyPair();
const serverKeyFile = (k: Record<string, unknown>) => ({ 'server-key.json': JSON.stringify(k) });

const bad: { name: string; files: Record<string, string>; keys: Record<string, string>; says: RegExp }[] = [
  {
    name: 'server key file missing',
    files: {},
    keys: { server_key_json_path: 'nope.json' },
    says: /zmq\.server_key_json_path \S*nope\.json: cannot read: no such file/,
  },
  {
    name: 'server key file not JSON',
    files: { 'server-key.json': `secret=${good.secretKey}` },
    keys: { server_key_json_path: 'server-key.json' },
    says: /zmq\.server_key_json_path \S*server-key\.json: not JSON .*allowed: \{"secret": <40-character z85>/,
  },
  {
    name: 'a 39-character secret',
    files: serverKeyFile({ secret: good.secretKey.slice(0, 39), public: good.publicKey }),
    keys: { server_key_json_path: 'server-key.json' },
    says: /"secret": 39 characters; a z85 CURVE key is 40/,
  },
  {
    name: 'a secret with a character outside z85',
    files: serverKeyFile({ secret: `${good.secretKey.slice(0, 39)}~`, public: good.publicKey }),
    keys: { server_key_json_path: 'server-key.json' },
    says: /"secret": "~" at position 40 is not a Z85 character/,
  },
  {
    name: 'a 39-character public key',
    files: serverKeyFile({ secret: good.secretKey, public: good.publicKey.slice(1) }),
    keys: { server_key_json_path: 'server-key.json' },
    says: /"public": 39 characters; a z85 CURVE key is 40/,
  },
  {
    name: 'secret and public of two different pairs',
    files: serverKeyFile({ secret: good.secretKey, public: other.publicKey }),
    keys: { server_key_json_path: 'server-key.json' },
    says: new RegExp(`"public" is not the public key of "secret" \\(that is ${good.publicKey.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): the two do not pair`),
  },
  {
    name: 'allow-list not JSON',
    files: { ...serverKeyFile({ secret: good.secretKey, public: good.publicKey }), 'allowed.json': `${other.publicKey}\n` },
    keys: { server_key_json_path: 'server-key.json', allowed_public_keys_json_path: 'allowed.json' },
    says: /zmq\.allowed_public_keys_json_path \S*allowed\.json: not JSON .*allowed: a JSON list of 40-character z85 CURVE public keys/,
  },
  {
    name: 'allow-list with a 39-character key',
    files: {
      ...serverKeyFile({ secret: good.secretKey, public: good.publicKey }),
      'allowed.json': JSON.stringify([other.publicKey, other.publicKey.slice(1)]),
    },
    keys: { server_key_json_path: 'server-key.json', allowed_public_keys_json_path: 'allowed.json' },
    says: /zmq\.allowed_public_keys_json_path \S*allowed\.json: entry 1: 39 characters; a z85 CURVE key is 40/,
  },
];

for (const c of bad) {
  t.test(`${c.name}: check-config fails (exit 1) and says why; serve does not start (exit 2)`, async (t) => {
    const dir = await setup(t, c.files, c.keys);
    const check = await runCli(['check-config', 'config.json'], dir);
    t.equal(check.code, 1, 'check-config exits 1');
    t.match(check.stdout, /^fail  zmq_curve: /m, 'a failed zmq_curve line');
    t.match(check.stdout, c.says, 'it says what is wrong with which file');
    t.match(check.stdout, /\[zmq_key_invalid\]/, 'with the error code');
    t.notMatch(check.stdout + check.stderr, STACK, 'no stack trace');

    const serve = await runCli(['serve', '--config', 'config.json'], dir, { until: (out) => out.includes('"event":"listening"'), killAfterMs: 60_000 });
    t.equal(serve.code, 2, 'serve exits 2');
    t.notMatch(serve.stdout, /"event":"listening"/, 'it never listened');
    t.notMatch(serve.stdout, /"event":"zmq_bound"/, 'the PUB socket was never bound');
    t.match(serve.stderr, /fleet-telemetry: cannot start: /, 'it says it cannot start');
    t.match(serve.stderr, c.says, 'and why');
    t.notMatch(serve.stderr, STACK, 'no stack trace');
  });
}

t.test('good key files: check-config says which server key subscribers need, exit 0', async (t) => {
  const dir = await setup(
    t,
    { ...serverKeyFile({ secret: good.secretKey, public: good.publicKey }), 'allowed.json': JSON.stringify([other.publicKey]) },
    { server_key_json_path: 'server-key.json', allowed_public_keys_json_path: 'allowed.json' },
  );
  chmodSync(join(dir, 'server-key.json'), 0o600);
  const r = await runCli(['check-config', 'config.json'], dir);
  t.equal(r.code, 0, `exit 0: ${r.stdout}`);
  t.match(r.stdout, `ok    zmq_curve: server-key.json: CURVE key pair; subscribers connect with server key ${good.publicKey}`);
  t.match(r.stdout, 'ok    zmq_curve: allowed.json: 1 subscriber key allowed');
  t.notMatch(r.stdout, /^warn  zmq_curve/m, 'no warning: the secret is readable by its owner only');
});

t.test('a server key file without "public" (Tesla reads only the secret): accepted, its public key derived; readable by others: a warning', async (t) => {
  const dir = await setup(t, serverKeyFile({ secret: good.secretKey }), { server_key_json_path: 'server-key.json' });
  chmodSync(join(dir, 'server-key.json'), 0o644);
  const r = await runCli(['check-config', 'config.json'], dir);
  t.equal(r.code, 0, `exit 0: ${r.stdout}`);
  t.match(r.stdout, `subscribers connect with server key ${good.publicKey}`);
  t.match(r.stdout, 'ok    zmq_curve: no zmq.allowed_public_keys_json_path: any subscriber that knows the server key may connect');
  t.match(r.stdout, /^warn  zmq_curve: server-key\.json holds the secret key and is readable by others \(mode 0644\): chmod 600 it$/m);
});

t.test('an allow-list without a server key: a warning, it has no effect', async (t) => {
  const dir = await setup(t, { 'allowed.json': JSON.stringify([other.publicKey]) }, { allowed_public_keys_json_path: 'allowed.json' });
  const r = await runCli(['check-config', 'config.json'], dir);
  t.equal(r.code, 0, `exit 0: ${r.stdout}`);
  t.match(r.stdout, /^warn  zmq_curve: zmq\.allowed_public_keys_json_path has no effect without zmq\.server_key_json_path/m);
});
