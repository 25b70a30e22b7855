/** A small flag parser for the bench scripts: `--name value`, `--name=value`, `--flag`, `--no-flag`. */

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
  for (const [name, s] of Object.entries(spec)) out[name] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new FlagError(`unexpected argument ${a}`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const s = spec[name];
    if (!s && name.startsWith('no-') && spec[name.slice(3)]?.type === 'bool') {
      out[name.slice(3)] = false;
      continue;
    }
    if (!s) throw new FlagError(`unknown flag --${name}`);
    if (s.type === 'bool') {
      out[name] = value === undefined ? true : value !== 'false' && value !== '0';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new FlagError(`--${name} needs a value`);
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new FlagError(`--${name} must be a number, got ${value}`);
      if (s.int && !Number.isInteger(n)) throw new FlagError(`--${name} must be a whole number, got ${value}`);
      if (s.min !== undefined && n < s.min) throw new FlagError(`--${name} must be at least ${s.min}`);
      if (s.max !== undefined && n > s.max) throw new FlagError(`--${name} must be at most ${s.max}`);
      out[name] = n;
    } else {
      if (s.choices && !s.choices.includes(value)) throw new FlagError(`--${name} must be one of ${s.choices.join(', ')}`);
      out[name] = value;
    }
  }
  return out as Flags<S>;
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
