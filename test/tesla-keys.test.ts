import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { runCli, STACK, testdir } from './helpers/cli.js';

const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { input, encoding: input === undefined ? undefined : 'utf8' });
const opensslText = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

t.test('tesla keys --out makes a P-256 pair: PKCS#8 private 0600, SPKI public, fingerprint as openssl', async (t) => {
  const dir = testdir(t);
  const out = join(dir, 'keys');
  const r = await runCli(['tesla', 'keys', '--out', out], dir);
  t.equal(r.code, 0, r.stderr);
  const priv = join(out, 'private-key.pem');
  const pub = join(out, 'com.tesla.3p.public-key.pem');
  t.equal(statSync(priv).mode & 0o777, 0o600, 'private key mode 0600');
  const privPem = readFileSync(priv, 'utf8');
  t.match(privPem, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8 PEM');
  t.match(opensslText(['pkey', '-in', priv, '-noout', '-text']), /prime256v1|P-256/, 'openssl reads a P-256 key');
  const pubPem = readFileSync(pub, 'utf8');
  t.match(pubPem, /^-----BEGIN PUBLIC KEY-----\n/, 'SPKI PEM');
  t.equal(pubPem, opensslText(['pkey', '-in', priv, '-pubout']), "the public file is the private key's public half");
  const der = openssl(['pkey', '-pubin', '-in', pub, '-outform', 'DER']);
  const fp = createHash('sha256').update(der).digest('hex');
  t.match(r.stdout, `fingerprint: ${fp}`, 'fingerprint = sha256 of the DER public key');
  t.notMatch(r.stdout + r.stderr, privPem.split('\n')[1], 'the private key is not printed');

  const again = await runCli(['tesla', 'keys', '--out', out], dir);
  t.equal(again.code, 1, 'a second run refuses');
  t.match(again.stderr, /already exists: refused to overwrite.*\[KEY_EXISTS\]/);
  t.notMatch(again.stderr, STACK);
  t.equal(readFileSync(priv, 'utf8'), privPem, 'the key is untouched');
});

t.test('tesla keys --from writes the public file of an openssl key (SEC1, with EC PARAMETERS)', async (t) => {
  const dir = testdir(t);
  const key = join(dir, 'mine.pem');
  // Tesla's documented command, parameters block included.
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-out', key]);
  t.match(readFileSync(key, 'utf8'), /BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
  const out = join(dir, 'pub');
  const r = await runCli(['tesla', 'keys', '--from', key, '--out', out], dir);
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(join(out, 'com.tesla.3p.public-key.pem'), 'utf8'), opensslText(['ec', '-in', key, '-pubout']), 'same public key as openssl');
  t.notOk(existsSync(join(out, 'private-key.pem')), 'no private key written');
  const again = await runCli(['tesla', 'keys', '--from', key, '--out', out], dir);
  t.equal(again.code, 0, 'the same public file again is fine');
  const other = join(dir, 'other.pem');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
  const clash = await runCli(['tesla', 'keys', '--from', other, '--out', out], dir);
  t.equal(clash.code, 1, "another key's public file is not overwritten");
  t.match(clash.stderr, /holds another public key.*\[KEY_EXISTS\]/);
});

t.test('keys that are not P-256, encrypted, or not private are refused with that reason', async (t) => {
  const dir = testdir(t);
  const p = (n: string) => join(dir, n);
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('rsa.pem')]);
  execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', p('p384.pem')]);
  execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', p('ed.pem')]);
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('good.pem')]);
  execFileSync('openssl', ['pkcs8', '-topk8', '-in', p('good.pem'), '-v2', 'aes-256-cbc', '-passout', 'pass:secret', '-out', p('enc.pem')]);
  execFileSync('openssl', ['ec', '-in', p('good.pem'), '-aes256', '-passout', 'pass:secret', '-out', p('enc-sec1.pem')]);
  execFileSync('openssl', ['ec', '-in', p('good.pem'), '-pubout', '-out', p('pub.pem')]);
  writeFileSync(p('junk.pem'), 'not a key\n');
  const cases: [string, string, RegExp][] = [
    ['rsa.pem', 'KEY_NOT_P256', /not a P-256 key \(it is an RSA key of 2048 bits\)/],
    ['p384.pem', 'KEY_NOT_P256', /not a P-256 key \(it is an EC key on secp384r1\)/],
    ['ed.pem', 'KEY_NOT_P256', /not a P-256 key \(it is a ed25519 key\)/],
    ['enc.pem', 'KEY_ENCRYPTED', /the private key is encrypted/],
    ['enc-sec1.pem', 'KEY_ENCRYPTED', /the private key is encrypted/],
    ['pub.pem', 'KEY_NOT_PRIVATE', /not a private key \(it holds a public key\)/],
    ['junk.pem', 'KEY_NOT_PEM', /no PEM key in it/],
    ['missing.pem', 'KEY_UNREADABLE', /cannot read the key: no such file/],
  ];
  for (const [file, code, why] of cases) {
    const out = p(`out-${file}`);
    const r = await runCli(['tesla', 'keys', '--from', p(file), '--out', out], dir);
    t.equal(r.code, 1, `${file}: exit 1`);
    t.match(r.stderr, why, `${file}: the reason`);
    t.match(r.stderr, `[${code}]`, `${file}: ${code}`);
    t.notMatch(r.stderr, STACK, `${file}: no stack trace`);
    t.notOk(existsSync(join(out, 'com.tesla.3p.public-key.pem')), `${file}: nothing written`);
  }
});

t.test('tesla keys needs --out; unknown tesla commands are usage errors', async (t) => {
  const dir = testdir(t);
  const r = await runCli(['tesla', 'keys'], dir);
  t.equal(r.code, 2);
  t.match(r.stderr, /--out DIR is required/);
  const u = await runCli(['tesla', 'nope'], dir);
  t.equal(u.code, 2);
  t.match(u.stderr, /unknown command "tesla nope"/);
});
