import { VIN_PATTERN } from '../../tls/dev-certs.js';
import { parseArgs, UsageError, type Command } from '../command.js';
import { API_STRINGS, API_USAGE, apiClients, errorLines } from './api-flags.js';

const status: Command = {
  summary: "a car's Fleet Telemetry config at Tesla, whether the car has it (synced), and its errors",
  usage: [
    'usage: fleet-telemetry tesla status --vin VIN (--region na|eu|cn | --api-base URL) [--token-file FILE] [--partner-token-file FILE]',
    '',
    ...API_USAGE,
    '',
    'Exit 0 when the car reports synced: true, 1 otherwise.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['vin', ...API_STRINGS] });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const vin = flags.vin as string | undefined;
    if (!vin) throw new UsageError('--vin VIN is required');
    if (!VIN_PATTERN.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);
    const { client, partner } = await apiClients(flags);
    const r = await client.vehicleConfig(vin);
    process.stdout.write(`vin: ${vin}\n`);
    process.stdout.write(`synced: ${r.synced}${r.synced ? '' : ' (the car has not taken this config yet: it must be online; wake it with the app)'}\n`);
    if (typeof r.response.key_paired === 'boolean') process.stdout.write(`key_paired: ${r.response.key_paired}\n`);
    process.stdout.write(r.config ? `config: ${JSON.stringify(r.config, null, 2)}\n` : 'config: none (no Fleet Telemetry config for this car)\n');
    for (const l of await errorLines(partner, vin)) process.stdout.write(`${l}\n`);
    return r.synced ? 0 : 1;
  },
};

export default status;
