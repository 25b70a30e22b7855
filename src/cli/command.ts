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

/** Minimal `--flag value` / `--flag` / positional parser: enough for this CLI, no dependency. */
export function parseArgs(
  argv: string[],
  spec: { strings?: string[]; booleans?: string[]; multi?: string[] },
): { flags: Record<string, string | boolean | string[]>; positionals: string[] } {
  const flags: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const strings = new Set([...(spec.strings ?? []), ...(spec.multi ?? [])]);
  const multi = new Set(spec.multi ?? []);
  const booleans = new Set(spec.booleans ?? []);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    let name = a.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (booleans.has(name)) {
      flags[name] = inline === undefined ? true : inline !== 'false';
    } else if (strings.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      if (multi.has(name)) ((flags[name] ??= []) as string[]).push(v);
      else flags[name] = v;
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { flags, positionals };
}
