import { parseArgs as parseArgv } from 'node:util';
import { FleetTelemetryError } from '../errors.js';

/** A sub-command of the `fleet-telemetry` CLI. `run` resolves to the process exit code. */
export interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** Thrown for a wrong command line; the CLI prints the message and the usage, exit 2. */
export class UsageError extends FleetTelemetryError {
  constructor(message: string, opts?: { cause?: unknown }) {
    super('usage', message, opts);
  }
}

/**
 * `--flag value`, `--flag=value`, `--flag` and positionals, read by node's parseArgs. Not in
 * strict mode: this CLI words its own errors ("unknown option --x", "--x needs a value").
 */
export function parseArgs(
  argv: string[],
  spec: { strings?: string[]; booleans?: string[]; multi?: string[] },
): { flags: Record<string, string | boolean | string[]>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const name of spec.strings ?? []) options[name] = { type: 'string' };
  for (const name of spec.multi ?? []) options[name] = { type: 'string', multiple: true };
  for (const name of spec.booleans ?? []) options[name] = { type: 'boolean' };
  const { values, positionals, tokens } = parseArgv({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (!o) throw new UsageError(`unknown option ${t.rawName}`);
    if (o.type === 'string' && t.value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    // `--watch=false` turns a switch off.
    if (o.type === 'boolean' && t.value !== undefined) values[t.name] = t.value !== 'false';
  }
  return { flags: values as Record<string, string | boolean | string[]>, positionals };
}
