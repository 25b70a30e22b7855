#!/usr/bin/env node
import { commands } from './cli/commands.js';
import { UsageError } from './cli/command.js';

async function usage(): Promise<string> {
  const lines = ['usage: fleet-telemetry <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    const c = await load();
    lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write((await usage()) + '\n');
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`fleet-telemetry: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.summary}\n${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fleet-telemetry ${name}: ${err.message}\n${cmd.usage}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A handle some library left open must not keep a finished command alive.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (err: unknown) => {
    process.stderr.write(`fleet-telemetry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
