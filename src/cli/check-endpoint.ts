import { readFileSync } from 'node:fs';
import { checkEndpoint } from './doctor/endpoint.js';
import { splitPem } from '../tls/ca-bundle.js';
import { formatLine, type CheckLine } from '../tls/check.js';
import { deliveryPolicyProblem } from '../tesla/delivery-policy.js';
import { parseArgs, UsageError, type Command } from './command.js';

const checkEndpointCommand: Command = {
  summary: 'check the server from outside, as a vehicle reaches it (DNS, TCP, TLS, chain, client CAs, a frame)',
  usage: [
    'usage: fleet-telemetry check-endpoint HOST[:PORT] --ca FILE [--cert FILE --key FILE] [--timeout MS]',
    '       fleet-telemetry check-endpoint validate_server.json [--cert FILE --key FILE]',
    '',
    '  HOST[:PORT]      the hostname and port of the vehicle configuration (port default 443)',
    '  --ca FILE        the ca of the vehicle configuration: the chain vehicles trust',
    '  --cert, --key    a client certificate the server accepts (e.g. certs --vin): adds a WebSocket',
    '                   upgrade and one frame that must be acked',
    '  --timeout MS     per step (default 10000)',
    '',
    'A JSON file instead of HOST:PORT: {"hostname", "port", "ca"} (the validate_server.json of',
    'Tesla\'s check_server_cert.sh) or the body vehicle-config prints ({"config": {...}}).',
    'tls_end says where TLS ends: at the server (direct mTLS) or at a proxy in front, and then whether',
    'the server behind it is in tls.proxy mode and verified the certificate the proxy passed.',
    'A vehicle config without "delivery_policy": "latest" gets a warn line.',
    'One ok/warn/fail line per check; exit 1 when any fails.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['ca', 'cert', 'key', 'timeout'] });
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `unexpected argument ${positionals[1]}` : 'HOST:PORT or a JSON file is required');
    const target = positionals[0];
    let host: string;
    let port = 443;
    let ca: string | undefined;
    let caFrom: string | undefined;
    const configLines: CheckLine[] = [];
    if (/\.json$/i.test(target)) {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(readFileSync(target, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`${target}: ${(err as Error).message}`, { cause: err });
      }
      const c = (typeof j.config === 'object' && j.config !== null ? j.config : j) as Record<string, unknown>;
      if (typeof c.hostname !== 'string' || !c.hostname) throw new UsageError(`${target}: no "hostname"`);
      host = c.hostname;
      if (c.port !== undefined) port = Number(c.port);
      if (typeof c.ca === 'string') {
        ca = c.ca;
        caFrom = `the "ca" of ${target}`;
      }
      // A config a car gets (not Tesla's validate_server.json, which has no fields) must keep the car on our acks.
      if (c.fields !== undefined) {
        const problem = deliveryPolicyProblem(c);
        configLines.push(
          problem
            ? { status: 'warn', check: 'delivery_policy', message: problem }
            : { status: 'ok', check: 'delivery_policy', message: 'latest: the car resends what this server did not ack' },
        );
      }
    } else {
      const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(target) ?? /^([^:]+)(?::(\d+))?$/.exec(target);
      if (!m) throw new UsageError(`${target}: write HOST:PORT`);
      host = m[1];
      if (m[2]) port = Number(m[2]);
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${String(port)} is not a port`);
    const read = (flag: string) => {
      try {
        return readFileSync(flags[flag] as string, 'utf8');
      } catch (err) {
        throw new UsageError(`--${flag}: ${(err as Error).message}`, { cause: err });
      }
    };
    if (flags.ca !== undefined) {
      ca = read('ca');
      caFrom = flags.ca as string;
    }
    if (!ca) throw new UsageError('--ca FILE is required (the ca vehicles are given)');
    if (splitPem(ca).length === 0) throw new UsageError('the ca holds no PEM certificate');
    if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('--cert and --key go together');
    const timeoutMs = flags.timeout !== undefined ? Number(flags.timeout) : undefined;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('--timeout must be a positive number of milliseconds');

    const lines = await checkEndpoint({
      host,
      port,
      ca,
      caFrom,
      cert: flags.cert !== undefined ? read('cert') : undefined,
      key: flags.key !== undefined ? read('key') : undefined,
      timeoutMs,
    });
    lines.push(...configLines);
    for (const l of lines) process.stdout.write(`${formatLine(l)}\n`);
    if (flags.cert === undefined && !lines.some((l) => l.status === 'fail')) {
      process.stdout.write('      frame: not tried (give --cert and --key of a vehicle certificate the server accepts)\n');
    }
    return lines.some((l) => l.status === 'fail') ? 1 : 0;
  },
};

export default checkEndpointCommand;
