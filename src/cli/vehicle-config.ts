import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { configPath } from '../config/load.js';
import { expiry, PRESET_NAMES, resolveFields, type FleetTelemetryConfigBody } from '../tesla/telemetry-config.js';
import { splitPem } from '../tls/ca-bundle.js';
import { VIN_PATTERN } from '../tls/dev-certs.js';
import { verifyCaAgainstServer } from '../tls/probe.js';
import { deriveVehicleCa } from '../tls/vehicle-ca.js';
import { DELIVERY_POLICY, deliveryPolicyProblem } from '../tesla/delivery-policy.js';
import { parseArgs, UsageError, type Command } from './command.js';
import { loadConfigForCommand } from './config-file.js';

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/i;

const vehicleConfig: Command = {
  summary: "print the body of the Fleet API's fleet_telemetry_config request for this server",
  usage: [
    'usage: fleet-telemetry vehicle-config --config FILE [--hostname NAME] [--port N] [--ca FILE]',
    '         [--exp DATE | --days N] [--preset NAME] [--field Name:seconds ...] [--vin VIN ...]',
    '         [--alert-types TYPE ...] [--prefer-typed] [--no-delivery-policy]',
    '',
    '  --config FILE          the server config: its tls.server_cert and tls.server_key are what vehicles will see',
    "  --hostname NAME        the public name vehicles connect to (default: the server certificate's only name)",
    "  --port N               the public port (default: the config's port; give it when a router forwards another one)",
    "  --ca FILE              the chain vehicles trust (default: the server certificate's issuers up to the root, taken",
    '                         from tls.server_cert, then tls.ca_file, then the public roots)',
    '  --exp DATE             when the configuration expires (ISO date or epoch seconds); --days N: N days ahead (default 365)',
    `  --preset NAME          fields and intervals: ${PRESET_NAMES.join(', ')} (default minimal when no --field is given)`,
    '  --field Name:seconds   stream this Field at most every that many seconds; repeatable, added to the preset',
    '  --vin VIN              a vehicle to configure; repeatable',
    '  --alert-types TYPE     add alert_types to the request (e.g. service); repeatable or comma-separated',
    '  --prefer-typed         add "prefer_typed": true',
    '  --no-delivery-policy   leave out "delivery_policy": "latest" (set by default: without it a car on firmware',
    "                         2025.2.6 / 2024.45.32.20 or later ignores this server's acks and resends nothing)",
    '',
    'The JSON body goes to stdout, notes to stderr. Refused (exit 1), with the reason: a host name the',
    "server certificate does not cover, and a ca that does not verify the server's chain for that name",
    '(judged by a real TLS handshake on 127.0.0.1 with the configured certificate and key).',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['config', 'hostname', 'port', 'ca', 'exp', 'days', 'preset'],
      multi: ['field', 'vin', 'alert-types'],
      booleans: ['prefer-typed', 'no-delivery-policy'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const file = flags.config as string | undefined;
    if (!file) throw new UsageError('--config FILE is required');
    const vins = (flags.vin as string[] | undefined) ?? [];
    for (const v of vins) if (!VIN_PATTERN.test(v)) throw new UsageError(`invalid VIN ${JSON.stringify(v)}`);
    const fieldFlags = (flags.field as string[] | undefined) ?? [];
    const preset = (flags.preset as string | undefined) ?? (fieldFlags.length ? undefined : 'minimal');
    const { fields, problems } = resolveFields(preset, fieldFlags);
    const e = expiry(flags.exp as string | undefined, flags.days as string | undefined);
    if (e.problem) problems.push(e.problem);
    if (problems.length) throw new UsageError(problems.join('\n'));
    if (Object.keys(fields).length === 0) throw new UsageError('no fields: give --preset or --field');

    const config = loadConfigForCommand(file);
    if (config === 2) return 2;
    const fail = (msg: string) => {
      process.stderr.write(`vehicle-config: ${msg}\n`);
      return 1;
    };

    const certFile = configPath(config, config.tls.server_cert);
    let certPem: string;
    let keyPem: string;
    try {
      certPem = readFileSync(certFile, 'utf8');
      keyPem = readFileSync(configPath(config, config.tls.server_key), 'utf8');
    } catch (err) {
      return fail(`cannot read the server certificate or key: ${(err as Error).message}`);
    }
    const serverCerts = splitPem(certPem).map((p) => new X509Certificate(p));
    const leaf = serverCerts[0];
    if (!leaf) return fail(`${certFile} holds no PEM certificate`);
    const san = leaf.subjectAltName?.replace(/IP Address:/g, 'IP:') ?? '';

    let hostname = flags.hostname as string | undefined;
    if (!hostname) {
      const names = san
        .split(', ')
        .filter((s) => s.startsWith('DNS:') && !s.includes('*'))
        .map((s) => s.slice(4));
      const publicNames = names.filter((n) => !LOOPBACK.test(n));
      if (publicNames.length !== 1) {
        throw new UsageError(
          `--hostname NAME is required: the server certificate covers ${san || 'no name'}${publicNames.length > 1 ? ', which one do vehicles use?' : ''}`,
        );
      }
      hostname = publicNames[0];
    }
    const covered = isIP(hostname) ? leaf.checkIP(hostname) : leaf.checkHost(hostname);
    if (!covered) {
      return fail(
        `refused: ${hostname} is not covered by the server certificate in ${certFile} (it covers ${san || 'no name'}); issue one for it, e.g. fleet-telemetry certs --hostname ${hostname}`,
      );
    }

    const port = flags.port !== undefined ? Number(flags.port) : config.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UsageError(
        flags.port !== undefined ? `--port ${String(flags.port)}: not a port` : `the config's port is ${config.port}: give the public port with --port`,
      );
    }

    let ca: string;
    let caFrom: string;
    if (flags.ca !== undefined) {
      caFrom = String(flags.ca);
      let text: string;
      try {
        text = readFileSync(flags.ca as string, 'utf8');
      } catch (err) {
        return fail(`--ca: ${(err as Error).message}`);
      }
      const parts = splitPem(text);
      if (parts.length === 0) return fail(`--ca ${String(flags.ca)} holds no PEM certificate`);
      ca = parts.join('');
    } else {
      const extra = [];
      if (config.tls.ca_file) {
        try {
          const caFile = configPath(config, config.tls.ca_file);
          extra.push({ certs: splitPem(readFileSync(caFile, 'utf8')).map((p) => new X509Certificate(p)), label: 'tls.ca_file' });
        } catch {
          // not readable: check-config says why; the ca then comes from elsewhere or --ca
        }
      }
      const derived = deriveVehicleCa(serverCerts, extra);
      if (!derived.pem) return fail(`cannot tell which chain vehicles must trust: ${derived.error}`);
      ca = derived.pem;
      caFrom = derived.source ?? "the server's chain";
      process.stderr.write(`ca: from ${derived.source}\n`);
    }

    const why = await verifyCaAgainstServer(certPem, keyPem, ca, hostname, caFrom);
    if (why) return fail(`refused: the ca does not verify the server's chain for ${hostname}: ${why}`);

    if (LOOPBACK.test(hostname) || (isIP(hostname) && /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(hostname))) {
      process.stderr.write(`note: ${hostname} is not reachable from the internet; a real vehicle needs a public name\n`);
    }
    if (flags['no-delivery-policy'] === true) process.stderr.write(`note: ${deliveryPolicyProblem({})}\n`);
    if (vins.length === 0) process.stderr.write('note: no --vin given: "vins" is empty, add the vehicles to configure\n');

    const alertTypes = ((flags['alert-types'] as string[] | undefined) ?? [])
      .flatMap((a) => a.split(','))
      .map((a) => a.trim())
      .filter(Boolean);
    const body: FleetTelemetryConfigBody = {
      vins,
      config: {
        hostname,
        port,
        ca,
        exp: e.exp!,
        fields,
        ...(alertTypes.length ? { alert_types: alertTypes } : {}),
        ...(flags['prefer-typed'] === true ? { prefer_typed: true } : {}),
        ...(flags['no-delivery-policy'] === true ? {} : { delivery_policy: DELIVERY_POLICY }),
      },
    };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  },
};

export default vehicleConfig;
