import { FleetTelemetryError } from '../errors.js';
import { UsageError, type Command } from './command.js';

/** `tesla` sub-commands by name; each module is loaded only when it runs. */
const sub: Record<string, () => Promise<Command>> = {
  keys: async () => (await import('./tesla/keys.js')).default,
  sign: async () => (await import('./tesla/sign.js')).default,
  push: async () => (await import('./tesla/push.js')).default,
  status: async () => (await import('./tesla/status.js')).default,
  login: async () => (await import('./tesla/login.js')).default,
  register: async () => (await import('./tesla/register.js')).default,
};

async function usage(): Promise<string> {
  const lines = ['usage: fleet-telemetry tesla <command> [options]', '', "Tesla's side of connecting a car, with this project alone:", ''];
  for (const [name, load] of Object.entries(sub)) {
    const c = await load();
    lines.push(`tesla ${name}: ${c.summary}`, c.usage.replace(/^/gm, '  '), '');
  }
  return lines.join('\n');
}

const tesla: Command = {
  summary: "Tesla's side: the application key, signed vehicle configs, the Fleet API",
  usage: 'usage: fleet-telemetry tesla <command> [options]   (fleet-telemetry tesla help: every command)',

  async run(argv) {
    const [name, ...rest] = argv;
    if (!name || name === 'help') {
      process.stdout.write(`${await usage()}\n`);
      return name ? 0 : 2;
    }
    const load = sub[name];
    if (!load) throw new UsageError(`unknown command "tesla ${name}" (known: ${Object.keys(sub).join(', ')})`);
    const cmd = await load();
    try {
      return await cmd.run(rest);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${err.message}\n${cmd.usage}`);
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
