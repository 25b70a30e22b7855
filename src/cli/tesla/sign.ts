import { readAppKey } from '../../tesla/app-key.js';
import { readConfigBody } from '../../tesla/config-body.js';
import { signConfigBody } from '../../tesla/sign-body.js';
import { VIN_PATTERN } from '../../tls/dev-certs.js';
import { parseArgs, UsageError, type Command } from '../command.js';

const sign: Command = {
  summary: 'sign a vehicle-config body: the body of POST /api/1/vehicles/fleet_telemetry_config_jws',
  usage: [
    'usage: fleet-telemetry tesla sign --body FILE --private-key KEY [--vin VIN]',
    '',
    '  --body FILE         what vehicle-config printed: {"vins": [...], "config": {...}} ("-": stdin)',
    '  --private-key KEY   the application key (P-256, unencrypted) the cars trust',
    '  --vin VIN           a token only that car accepts (default: every car that trusts the key)',
    '',
    'Prints {"vins": [...], "token": "..."}: the config signed as Tesla.SS256 (Schnorr over P-256,',
    "as vehicle-command's proxy signs it). The key never leaves this machine.",
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['body', 'private-key', 'vin'] });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const bodyFile = flags.body as string | undefined;
    const keyFile = flags['private-key'] as string | undefined;
    if (!bodyFile) throw new UsageError('--body FILE is required');
    if (!keyFile) throw new UsageError('--private-key KEY is required');
    const vin = flags.vin as string | undefined;
    if (vin !== undefined && !VIN_PATTERN.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);
    const key = readAppKey(keyFile);
    const body = readConfigBody(bodyFile);
    const { signed, notes } = signConfigBody(key, body, vin);
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
    if (signed.vins.length === 0) process.stderr.write('note: "vins" is empty: Tesla configures no car with it\n');
    process.stdout.write(`${JSON.stringify(signed, null, 2)}\n`);
    return 0;
  },
};

export default sign;
