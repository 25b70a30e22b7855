import path from 'node:path';
import { parseArgs, UsageError, type Command } from './command.js';
import { VIN_PATTERN, writeDevCerts } from '../tls/devcerts.js';

const DEFAULT_OUT = 'dev-certs';
const DEFAULT_VINS = ['5YJ3E1EA7KF000001'];

const certs: Command = {
  summary: 'generate a development CA, localhost server cert and vehicle client certs',
  usage: [
    'usage: fleet-telemetry certs [--out DIR] [--vin VIN ...] [--force]',
    '',
    `  --out DIR   output directory (default ${DEFAULT_OUT})`,
    `  --vin VIN   issue a client cert for this VIN; repeatable (default ${DEFAULT_VINS[0]})`,
    '  --force     replace an existing CA and re-issue everything',
    '',
    'An existing CA in DIR is reused, so running again with a new --vin only adds that vehicle.',
  ].join('\n'),

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, {
      strings: ['out'],
      multi: ['vin'],
      booleans: ['force'],
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const out = (flags.out as string | undefined) ?? DEFAULT_OUT;
    const vins = (flags.vin as string[] | undefined) ?? DEFAULT_VINS;
    for (const vin of vins) {
      if (!VIN_PATTERN.test(vin)) throw new UsageError(`invalid VIN ${JSON.stringify(vin)}`);
    }
    const res = await writeDevCerts(out, vins, { force: flags.force === true });
    for (const f of res.files) {
      process.stdout.write(`${f.action === 'written' ? 'wrote' : 'kept '} ${display(f.path)}\n`);
    }
    return 0;
  },
};

/** Relative to cwd when inside it (short output), absolute otherwise. */
function display(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export default certs;
