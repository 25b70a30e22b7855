import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { splitPem } from '../src/tls/ca-bundle.js';

// certs --hostname: a server certificate for the public name a real car connects to.
const execFileP = promisify(execFile);
const openssl = async (...args: string[]) => (await execFileP('openssl', args)).stdout;

t.setTimeout(120_000);

t.test('certs --hostname --ip: SANs, serverAuth, chain beside it, CA reused on the next run', async (t) => {
  const dir = testdir(t);
  const r = await runCli(['certs', '--hostname', 'car.example.com', '--hostname', 'localhost', '--ip', '127.0.0.1', '--out', 'dc'], dir);
  t.equal(r.code, 0, r.stderr);
  const cert = join(dir, 'dc', 'server-car.example.com.pem');
  const chain = join(dir, 'dc', 'server-car.example.com-chain.pem');
  const ca = join(dir, 'dc', 'ca.pem');

  const ext = await openssl('x509', '-in', cert, '-noout', '-ext', 'subjectAltName,extendedKeyUsage,keyUsage,basicConstraints');
  t.match(ext, /DNS:car\.example\.com, DNS:localhost, IP Address:127\.0\.0\.1/, 'every name and the IP address in the SANs');
  t.match(ext, /Extended Key Usage:\s*\n\s*TLS Web Server Authentication/, 'extended key usage serverAuth');
  t.match(ext, /Key Usage: critical\s*\n\s*Digital Signature/, 'key usage digitalSignature');
  t.match(ext, /CA:FALSE/, 'a leaf, not a CA');

  const chainPems = splitPem(readFileSync(chain, 'utf8'));
  t.equal(chainPems.length, 2, 'chain file: server certificate and CA');
  t.equal(chainPems[0], readFileSync(cert, 'utf8'), 'server certificate first');
  t.equal(chainPems[1], readFileSync(ca, 'utf8'), 'then the CA');
  t.match(
    await openssl('verify', '-CAfile', ca, '-verify_hostname', 'car.example.com', cert),
    /: OK/,
    'openssl verifies it against the CA for car.example.com',
  );
  await t.rejects(openssl('verify', '-CAfile', ca, '-verify_hostname', 'other.example.com', cert), 'and not for another name');
  const key = join(dir, 'dc', 'server-car.example.com.key');
  const pub = (f: string, kind: 'x509' | 'pkey') => openssl(kind, '-in', f, ...(kind === 'x509' ? ['-noout', '-pubkey'] : ['-pubout']));
  t.equal(await pub(cert, 'x509'), await pub(key, 'pkey'), 'the key belongs to the certificate');

  t.match(r.stdout, /Give the car the CA that verifies this chain, dc\/ca\.pem/, 'says what to give the car');
  t.match(r.stdout, /fleet-telemetry vehicle-config --config FILE --hostname car\.example\.com --ca dc\/ca\.pem/, 'and the next command');
  t.match(r.stdout, new RegExp(`"server_cert": "${chain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 'and the config lines');

  const caBefore = readFileSync(ca, 'utf8');
  const again = await runCli(['certs', '--hostname', 'car2.example.com', '--out', 'dc'], dir);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /^kept  dc\/ca\.pem$/m, 'the CA is reused');
  t.equal(readFileSync(ca, 'utf8'), caBefore, 'ca.pem unchanged');
  t.match(await openssl('verify', '-CAfile', ca, join(dir, 'dc', 'server-car2.example.com.pem')), /: OK/, 'the new certificate is from the same CA');
});

t.test('certs --hostname with --vin issues vehicles from the same CA; without --vin none', async (t) => {
  const dir = testdir(t);
  const r = await runCli(['certs', '--hostname', 'car.example.com', '--vin', '5YJ3E1EA7KF000009', '--out', 'dc'], dir);
  t.equal(r.code, 0, r.stderr);
  const ca = join(dir, 'dc', 'ca.pem');
  t.match(await openssl('verify', '-CAfile', ca, join(dir, 'dc', 'vehicles', '5YJ3E1EA7KF000009.pem')), /: OK/);
  t.match(await openssl('verify', '-CAfile', ca, join(dir, 'dc', 'server-car.example.com.pem')), /: OK/);
  t.equal(r.stdout.match(/dc\/ca\.pem$/gm)?.length, 1, 'the CA is listed once');
  const only = await runCli(['certs', '--hostname', 'x.example.com', '--out', 'd2'], dir);
  t.equal(only.code, 0);
  t.notMatch(only.stdout, /vehicles\//, 'no vehicle certificate unless asked for');
});

t.test('certs --hostname: wrong names are usage errors', async (t) => {
  const dir = testdir(t);
  for (const [args, msg] of [
    [['--hostname', '203.0.113.7'], /203\.0\.113\.7 is an IP address: pass it with --ip/],
    [['--hostname', 'bad_name!'], /invalid host name "bad_name!"/],
    [['--ip', 'car.example.com'], /invalid IP address "car\.example\.com"/],
  ] as const) {
    const r = await runCli(['certs', ...args, '--out', 'dc'], dir);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.stderr, msg);
    t.notMatch(r.stderr, STACK);
  }
});
