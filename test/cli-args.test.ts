import t from 'tap';
import { parseArgs, UsageError } from '../src/cli/command.js';
import { FlagError, parseFlags, type FlagSpec } from '../bench/lib/args.js';

const SPEC = { strings: ['config', 'url'], multi: ['vin'], booleans: ['watch'] };

t.test('the CLI reads values, repeated flags, switches and positionals', async (t) => {
  const r = parseArgs(['a.json', '--config', 'c.json', '--url=https://x/y?a=b', '--vin', 'V1', '--vin=V2', '--watch', 'b'], SPEC);
  t.same({ ...r.flags }, { config: 'c.json', url: 'https://x/y?a=b', vin: ['V1', 'V2'], watch: true });
  t.same(r.positionals, ['a.json', 'b']);
  t.equal(parseArgs(['--watch=false'], SPEC).flags.watch, false, '--flag=false turns a switch off');
  t.equal(parseArgs(['--config', '--url'], SPEC).flags.config, '--url', 'a value may start with dashes');
  t.same(parseArgs(['--', '--config'], SPEC).positionals, ['--config'], 'after -- everything is positional');
});

t.test('the CLI words its own errors', async (t) => {
  t.throws(() => parseArgs(['--bogus'], SPEC), new UsageError('unknown option --bogus'));
  t.throws(() => parseArgs(['--bogus=1'], SPEC), new UsageError('unknown option --bogus'));
  t.throws(() => parseArgs(['--toString'], SPEC), new UsageError('unknown option --toString'), 'no inherited names');
  t.throws(() => parseArgs(['--config'], SPEC), new UsageError('--config needs a value'));
  t.throws(() => parseArgs(['--vin'], SPEC), new UsageError('--vin needs a value'));
});

const BENCH = {
  runs: { type: 'number', default: 3, min: 1, max: 20, int: true, help: 'runs' },
  mode: { type: 'string', default: 'a', choices: ['a', 'b'], help: 'mode' },
  json: { type: 'bool', default: true, help: 'json' },
} satisfies Record<string, FlagSpec>;

t.test('bench flags: defaults, numbers, choices, --no- forms in order', async (t) => {
  t.same(parseFlags([], BENCH), { runs: 3, mode: 'a', json: true });
  t.same(parseFlags(['--runs', '7', '--mode=b', '--no-json'], BENCH), { runs: 7, mode: 'b', json: false });
  t.same(parseFlags(['--no-json', '--json'], BENCH).json, true, 'the later flag wins');
  t.same(parseFlags(['--json=0'], BENCH).json, false);
});

t.test('bench flags: errors', async (t) => {
  for (const [argv, message] of [
    [['x'], 'unexpected argument x'],
    [['--nope'], 'unknown flag --nope'],
    [['--runs'], '--runs needs a value'],
    [['--runs', 'many'], '--runs must be a number, got many'],
    [['--runs', '2.5'], '--runs must be a whole number, got 2.5'],
    [['--runs', '0'], '--runs must be at least 1'],
    [['--runs', '21'], '--runs must be at most 20'],
    [['--mode', 'c'], '--mode must be one of a, b'],
  ] as const) {
    t.throws(() => parseFlags([...argv], BENCH), new FlagError(message), argv.join(' '));
  }
});
