/** Flags of the bench scripts, read by node's parseArgs: `--name value`, `--name=value`, `--flag`, `--no-flag`. */
import { parseArgs } from 'node:util';

export type FlagSpec =
  | { type: 'number'; default?: number; min?: number; max?: number; int?: boolean; help: string }
  | { type: 'bool'; default: boolean; help: string }
  | { type: 'string'; default?: string; choices?: string[]; help: string };

export type Flags<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K] extends { type: 'number' } ? number | undefined : S[K] extends { type: 'bool' } ? boolean : string | undefined;
};

export class FlagError extends Error {}

export function usage(title: string, spec: Record<string, FlagSpec>): string {
  const lines = [title, '', 'flags:'];
  for (const [name, s] of Object.entries(spec)) {
    const def = s.default === undefined ? '' : ` (default ${s.type === 'bool' ? (s.default ? 'on' : 'off') : s.default})`;
    const arg = s.type === 'bool' ? `--${name} / --no-${name}` : `--${name} ${s.type === 'number' ? 'N' : 'S'}`;
    lines.push(`  ${arg.padEnd(30)} ${s.help}${def}`);
  }
  return lines.join('\n');
}

export function parseFlags<S extends Record<string, FlagSpec>>(argv: string[], spec: S): Flags<S> {
  const out: Record<string, unknown> = {};
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, s] of Object.entries(spec)) {
    out[name] = s.default;
    options[name] = { type: s.type === 'bool' ? 'boolean' : 'string' };
    if (s.type === 'bool') options[`no-${name}`] = { type: 'boolean' };
  }
  // Tokens in order, so a later flag wins over an earlier `--no-` form; errors worded here.
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') throw new FlagError(`unexpected argument ${t.value}`);
    if (t.kind !== 'option') continue;
    const s = Object.hasOwn(spec, t.name) ? spec[t.name] : undefined;
    if (!s && Object.hasOwn(options, t.name)) out[t.name.slice(3)] = false;
    else if (!s) throw new FlagError(`unknown flag ${t.rawName}`);
    else if (s.type === 'bool') out[t.name] = t.value === undefined || (t.value !== 'false' && t.value !== '0');
    else if (t.value === undefined) throw new FlagError(`${t.rawName} needs a value`);
    else out[t.name] = flagValue(t.name, s, t.value);
  }
  return out as Flags<S>;
}

function flagValue(name: string, s: FlagSpec, value: string): number | string {
  if (s.type === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new FlagError(`--${name} must be a number, got ${value}`);
    if (s.int && !Number.isInteger(n)) throw new FlagError(`--${name} must be a whole number, got ${value}`);
    if (s.min !== undefined && n < s.min) throw new FlagError(`--${name} must be at least ${s.min}`);
    if (s.max !== undefined && n > s.max) throw new FlagError(`--${name} must be at most ${s.max}`);
    return n;
  }
  if (s.type === 'string' && s.choices && !s.choices.includes(value)) throw new FlagError(`--${name} must be one of ${s.choices.join(', ')}`);
  return value;
}

/** Flags for a bench script: a bad flag prints the usage and exits 2; --help prints it and exits 0. */
export function flagsOrExit<S extends Record<string, FlagSpec>>(argv: string[], spec: S, title: string): Flags<S> {
  let flags: Flags<S>;
  try {
    flags = parseFlags(argv, spec);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`${err.message}\n\n${usage(title, spec)}`);
    process.exit(2);
  }
  if ((flags as Record<string, unknown>).help) {
    console.log(usage(title, spec));
    process.exit(0);
  }
  return flags;
}
