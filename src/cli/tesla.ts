import { FleetTelemetryError } from '../errors.js';
import { UsageError, type Command } from './command.js';
import keys from './tesla/keys.js';
import login from './tesla/login.js';
import push from './tesla/push.js';
import register from './tesla/register.js';
import sign from './tesla/sign.js';
import status from './tesla/status.js';

/** `tesla` sub-commands by name, in the order an owner meets them. */
const sub: Record<string, Command> = { keys, register, login, sign, push, status };

/** Every sub-command's usage: `tesla --help` and `tesla push --help` both show this. */
const fullUsage = [
  'usage: fleet-telemetry tesla <command> [options]',
  '',
  ...Object.entries(sub).flatMap(([name, c]) => [`tesla ${name}: ${c.summary}`, c.usage.replace(/^/gm, '  '), '']),
].join('\n');

const tesla: Command = {
  summary: "Tesla's side: the application key, its registration, the owner's token, signed configs sent and synced",
  usage: fullUsage,

  async run(argv) {
    const [name, ...rest] = argv;
    if (!name || name === 'help') {
      process.stdout.write(`${fullUsage}\n`);
      return name ? 0 : 2;
    }
    const cmd = sub[name];
    if (!cmd) throw new UsageError(`unknown command "tesla ${name}" (known: ${Object.keys(sub).join(', ')})`);
    try {
      return await cmd.run(rest);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`fleet-telemetry tesla ${name}: ${err.message}\n${cmd.usage}\n`);
        return 2;
      }
      // A coded error is an outcome the owner acts on: its message, never a stack trace.
      if (err instanceof FleetTelemetryError) {
        process.stderr.write(`fleet-telemetry tesla ${name}: ${err.message} [${err.code}]\n`);
        return 1;
      }
      throw err;
    }
  },
};

export default tesla;
