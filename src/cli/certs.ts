import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs, UsageError, type Command } from './command.js';
import { HOSTNAME_PATTERN, VIN_PATTERN, writeDevCerts, writeNamedServerCert } from '../tls/dev-certs.js';

const DEFAULT_OUT = 'dev-certs';
const DEFAULT_VINS = ['5YJ3E1EA7KF000001'];

const certs: Command = {
  summary: 'generate a development CA, server certificates (localhost or public names) and vehicle client certs',
  usage: [
    'usage: fleet-telemetry certs [--out DIR] [--vin VIN ...] [--force]',
    '       fleet-telemetry certs --hostname NAME [--hostname NAME ...] [--ip ADDR ...] [--out DIR] [--vin VIN ...] [--force]',
    '',
    `  --out DIR         output directory (default ${DEFAULT_OUT})`,
    `  --vin VIN         issue a client cert for this VIN; repeatable (default ${DEFAULT_VINS[0]} without --hostname, none with it)`,
    '  --hostname NAME   issue a server certificate covering NAME (the public name vehicles connect to); repeatable',
    '  --ip ADDR         also cover this IP address; repeatable',
    '  --force           replace an existing CA and re-issue everything',
    '',
    'An existing CA in DIR is reused, so running again with a new --vin only adds that vehicle.',
    'With --hostname, DIR gets server-NAME.pem, server-NAME.key and server-NAME-chain.pem (the',
    'certificate, then the CA); the end of the output says what to give the car.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['out'],
      multi: ['vin', 'hostname', 'ip'],
      booleans: ['force'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const out = (flags.out as string | undefined) ?? DEFAULT_OUT;
    const hostnames = (flags.hostname as string[] | undefined) ?? [];
    const ips = (flags.ip as string[] | undefined) ?? [];
    for (const h of hostnames) {
      if (isIP(h)) throw new UsageError(`${h} is an IP address: pass it with --ip`);
      if (!HOSTNAME_PATTERN.test(h)) throw new UsageError(`invalid host name ${JSON.stringify(h)}`);
    }
    for (const ip of ips) if (!isIP(ip)) throw new UsageError(`invalid IP address ${JSON.stringify(ip)}`);
    const named = hostnames.length + ips.length > 0;
    const vins = (flags.vin as string[] | undefined) ?? (named ? [] : DEFAULT_VINS);
    for (const vin of vins) {
      if (!VIN_PATTERN.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);
    }
    const force = flags.force === true;
    const print = (files: { path: string; action: string }[]) => {
      for (const f of files) process.stdout.write(`${f.action === 'written' ? 'wrote' : 'kept '} ${display(f.path)}\n`);
    };
    // Vehicle certificates first: with --force they make the new CA the server certificate then reuses.
    if (vins.length > 0 || !named) {
      const dev = await writeDevCerts(out, vins, { force });
      print(dev.files);
      // Asked for vehicles, the owner also gets a server certificate: say what it is good for.
      if (!named && dev.files.some((f) => f.path === dev.serverCert && f.action === 'written')) {
        process.stdout.write(
          `\n${display(dev.serverCert)} is a development server certificate for localhost, 127.0.0.1 and ::1 (what make run uses); for a host vehicles reach, add --hostname NAME.\n`,
        );
      }
    }
    if (!named) return 0;
    const res = await writeNamedServerCert(out, { dnsNames: hostnames, ipAddresses: ips }, { force: force && vins.length === 0 });
    print(res.files.filter((f) => vins.length === 0 || !f.path.startsWith(path.join(res.dir, 'ca.'))));
    const covers = [...hostnames, ...ips].join(', ');
    const publicName = hostnames.find((h) => !h.startsWith('*.')) ?? ips[0] ?? hostnames[0];
    process.stdout.write(
      [
        '',
        `The server certificate covers ${covers}, issued by the CA ${display(res.caCert)}.`,
        'In the server config:',
        `  "tls": { "server_cert": "${res.chain}", "server_key": "${res.key}" }`,
        `Give the car the CA that verifies this chain, ${display(res.caCert)}: it is the "ca" of the`,
        "vehicle's fleet_telemetry_config, and vehicle-config puts it there for you:",
        `  fleet-telemetry vehicle-config --config FILE --hostname ${publicName} --ca ${display(res.caCert)} --vin YOUR_VIN`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};

/** Relative to cwd when inside it (short output), absolute otherwise. */
function display(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export default certs;
