import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { startServer } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';
import { splitPem } from '../src/tls/ca-bundle.js';
import { createCa, issueCert } from '../src/tls/dev-certs.js';

// vehicle-config: the fleet_telemetry_config body, its ca judged against the server vehicles reach.
const VIN = '5YJ3E1EA7KF000021';
const DAY_S = 86400;

t.setTimeout(180_000);

interface Body {
  vins: string[];
  config: {
    hostname: string;
    port: number;
    ca: string;
    exp: number;
    fields: Record<string, { interval_seconds: number }>;
    alert_types?: string[];
    prefer_typed?: boolean;
  };
}

t.test('the body verifies against the running server for its host name, and a car with it gets an ack', async (t) => {
  const dir = testdir(t);
  const made = await runCli(['certs', '--hostname', 'localhost', '--ip', '127.0.0.1', '--vin', VIN, '--out', 'dc'], dir);
  t.equal(made.code, 0, made.stderr);
  const tls = {
    server_cert: join(dir, 'dc', 'server-localhost-chain.pem'),
    server_key: join(dir, 'dc', 'server-localhost.key'),
    ca_file: join(dir, 'dc', 'ca.pem'),
  };
  const server = await startServer(dir, { records: { V: ['logger'] }, tls });
  t.teardown(() => server.stop());
  const cfg = join(dir, 'vc.json');
  writeFileSync(cfg, JSON.stringify({ host: '127.0.0.1', port: 0, records: { V: ['logger'] }, tls }));

  const r = await runCli(
    [
      'vehicle-config',
      '--config',
      cfg,
      '--hostname',
      'localhost',
      '--port',
      String(server.port),
      '--vin',
      VIN,
      '--preset',
      'charging',
      '--field',
      'VehicleSpeed:5',
      '--alert-types',
      'service',
      '--prefer-typed',
    ],
    dir,
  );
  t.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout) as Body;
  t.same(body.vins, [VIN]);
  t.equal(body.config.hostname, 'localhost');
  t.equal(body.config.port, server.port);
  t.same(body.config.alert_types, ['service']);
  t.equal(body.config.prefer_typed, true);
  t.same(body.config.fields.VehicleSpeed, { interval_seconds: 5 }, '--field added to the preset');
  t.same(body.config.fields.ChargeState, { interval_seconds: 30 }, 'the charging preset');
  const now = Date.now() / 1000;
  t.ok(Math.abs(body.config.exp - (now + 365 * DAY_S)) < 120, 'exp: epoch seconds a year ahead');
  t.same(splitPem(body.config.ca), [readFileSync(tls.ca_file, 'utf8')], 'ca: the CA that issued the server chain');

  // The ca, as the car gets it, against the live server for that host name.
  const v = {
    certPem: readFileSync(join(dir, 'dc', 'vehicles', `${VIN}.pem`), 'utf8'),
    keyPem: readFileSync(join(dir, 'dc', 'vehicles', `${VIN}.key`), 'utf8'),
  };
  const authorized = await new Promise<boolean>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, servername: body.config.hostname, ca: body.config.ca, cert: v.certPem, key: v.keyPem }, () => {
      resolve(s.authorized);
      s.destroy();
    });
    s.once('error', reject);
  });
  t.ok(authorized, "the running server's chain verifies against the body's ca for localhost");
  const car = await connectVehicle(server.port, v, body.config.ca);
  car.send(vFrame('vc-1', VIN, [{ key: 'VehicleSpeed', value: { float_value: 12 } }]));
  t.equal((await car.response('vc-1')).kind, 'ack', 'a vehicle trusting only that ca streams and is acked');
  await car.close();

  // --exp and --days
  const exp = await runCli(['vehicle-config', '--config', cfg, '--hostname', 'localhost', '--port', '443', '--exp', '2030-01-01T00:00:00Z'], dir);
  t.equal(exp.code, 0, exp.stderr);
  t.equal((JSON.parse(exp.stdout) as Body).config.exp, Date.UTC(2030, 0, 1) / 1000);
  t.same(
    Object.keys((JSON.parse(exp.stdout) as Body).config.fields).sort(),
    ['BatteryLevel', 'ChargeState', 'Gear', 'Location', 'Locked', 'Odometer', 'VehicleSpeed'],
    'minimal preset by default',
  );
  t.match(exp.stderr, /no --vin given/);
  const days = await runCli(['vehicle-config', '--config', cfg, '--hostname', '127.0.0.1', '--port', '443', '--days', '30', '--preset', 'all'], dir);
  t.equal(days.code, 0, days.stderr);
  const all = JSON.parse(days.stdout) as Body;
  t.ok(Math.abs(all.config.exp - (now + 30 * DAY_S)) < 120, '--days 30');
  t.ok(Object.keys(all.config.fields).length > 200 && !('Unknown' in all.config.fields), 'all: every Field but Unknown');

  // Refusals, each with its reason.
  const wrongName = await runCli(['vehicle-config', '--config', cfg, '--hostname', 'car.example.com', '--port', '443'], dir);
  t.equal(wrongName.code, 1);
  t.match(wrongName.stderr, /refused: car\.example\.com is not covered by the server certificate .*\(it covers DNS:localhost, IP:127\.0\.0\.1\)/);
  t.equal(wrongName.stdout, '', 'no body');
  const other = await createCa({ commonName: 'Some Other CA' });
  writeFileSync(join(dir, 'other.pem'), other.certPem);
  const wrongCa = await runCli(['vehicle-config', '--config', cfg, '--hostname', 'localhost', '--port', '443', '--ca', 'other.pem'], dir);
  t.equal(wrongCa.code, 1);
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256.slice(0, 23);
  const serverCa = readFileSync(join(dir, 'dc', 'ca.pem'), 'utf8');
  t.match(
    wrongCa.stderr,
    new RegExp(
      `refused: the ca does not verify the server's chain for localhost: the server's chain ends at the root "fleet-telemetry localhost dev CA [0-9a-f]{8}" \\(SHA-256 ${fp(serverCa)}\\), ` +
        `which is not in the ca \\(the ca from other\\.pem holds "Some Other CA" \\(SHA-256 ${fp(other.certPem)}\\)\\)`,
    ),
    'both CAs named by subject and fingerprint, and the file the ca came from',
  );
  t.equal(wrongCa.stdout, '');

  // make run's development CA given for a server whose chain another `certs --hostname` CA issued.
  t.equal((await runCli(['certs', '--out', 'dev-certs'], dir)).code, 0);
  const devCa = readFileSync(join(dir, 'dev-certs', 'ca.pem'), 'utf8');
  const mixed = await runCli(['vehicle-config', '--config', cfg, '--hostname', 'localhost', '--port', '443', '--ca', 'dev-certs/ca.pem'], dir);
  t.equal(mixed.code, 1);
  t.match(
    mixed.stderr,
    new RegExp(`the ca from dev-certs/ca\\.pem holds "fleet-telemetry localhost dev CA [0-9a-f]{8}" \\(SHA-256 ${fp(devCa)}\\)`),
    'the file and which CA it holds',
  );
  t.notMatch(mixed.stderr, /"fleet-telemetry dev CA"/, 'no CA named like another');
  const typo = await runCli(
    ['vehicle-config', '--config', cfg, '--hostname', 'localhost', '--field', 'vehiclespeed:5', '--field', 'BatteryLvl:60', '--field', 'Odometer:0'],
    dir,
  );
  t.equal(typo.code, 2);
  t.match(typo.stderr, /vehiclespeed is not a Field of the vehicle schema; did you mean VehicleSpeed\?/);
  t.match(typo.stderr, /BatteryLvl is not a Field of the vehicle schema; did you mean BatteryLevel\?/);
  t.match(typo.stderr, /--field Odometer:0: the interval must be a whole number of seconds/);
  t.notMatch(typo.stderr, STACK);
});

t.test('a certificate not from this project (intermediate, root elsewhere): ca is the intermediate and root', async (t) => {
  const dir = testdir(t);
  const root = await createCa({ commonName: 'Owner Root' });
  const inter = await createCa({ commonName: 'Owner Issuing CA', issuer: root });
  const leaf = await issueCert(inter, { commonName: 'tesla.owner.example', kind: 'server', dnsNames: ['tesla.owner.example'] });
  // As an ACME client writes it: fullchain without the root.
  writeFileSync(join(dir, 'fullchain.pem'), leaf.certPem + inter.certPem);
  writeFileSync(join(dir, 'privkey.pem'), leaf.keyPem);
  writeFileSync(join(dir, 'root.pem'), root.certPem);
  const base = { host: '0.0.0.0', port: 8443, records: { V: ['logger'] } };
  writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...base, tls: { server_cert: 'fullchain.pem', server_key: 'privkey.pem', ca_file: 'root.pem' } }));
  const r = await runCli(['vehicle-config', '--config', 'a.json', '--vin', VIN], dir);
  t.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout) as Body;
  t.equal(body.config.hostname, 'tesla.owner.example', 'the host name from the certificate when it has one name');
  t.equal(body.config.port, 8443, "the config's port");
  t.same(splitPem(body.config.ca), [inter.certPem, root.certPem], 'intermediate then root');
  t.match(r.stderr, /ca: from the server certificate file and "Owner Root" from tls\.ca_file/);

  // Root nowhere to be found: --ca is asked for.
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...base, tls: { server_cert: 'fullchain.pem', server_key: 'privkey.pem', trust_tesla_ca: true } }));
  const missing = await runCli(['vehicle-config', '--config', 'b.json'], dir);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /the CA "Owner Root" that issued "Owner Issuing CA" is in neither .* pass it with --ca FILE/);
  const given = await runCli(['vehicle-config', '--config', 'b.json', '--ca', 'root.pem'], dir);
  t.equal(given.code, 0, given.stderr);
  t.same(splitPem((JSON.parse(given.stdout) as Body).config.ca), [root.certPem], '--ca as given');
  // Only the intermediate: a car could not build the chain to a root it trusts.
  writeFileSync(join(dir, 'inter.pem'), inter.certPem);
  const partial = await runCli(['vehicle-config', '--config', 'b.json', '--ca', 'inter.pem'], dir);
  t.equal(partial.code, 1, 'an intermediate alone is refused');
  t.match(partial.stderr, /refused: the ca does not verify/);
});
