import { loadConfigForCommand } from './config-file.js';
import { parseArgs, UsageError, type Command } from './command.js';
import { runServer } from '../server/run.js';
import { startPrimary, workerCount } from '../server/cluster.js';

const usage = 'usage: fleet-telemetry serve --config FILE [--workers N|auto]';

/** --workers as the config key takes it: 1 to 256, or "auto". */
function workersFlag(v: string): number | 'auto' {
  if (v === 'auto') return v;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 256) throw new UsageError(`--workers must be a whole number from 1 to 256, or auto (got ${JSON.stringify(v)})`);
  return n;
}

const serve: Command = {
  summary: 'run the vehicle server',
  usage,
  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config', 'workers'] });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const workers = flags.workers === undefined ? undefined : workersFlag(flags.workers as string);
    const file = (flags.config as string | undefined) ?? 'config.json';
    const config = loadConfigForCommand(file);
    if (config === 2) return 2;
    if (workers !== undefined) config.workers = workers;
    // One worker is one plain process, exactly as without the key: no cluster.
    const n = workerCount(config.workers);
    if (n > 1 && Object.values(config.records).some((names) => names?.includes('zmq')) && !('zmq' in config.producers)) {
      process.stderr.write(`${file}: --workers ${n}: zmq is routed, and its PUB socket binds zmq.addr, which only one process can; run one worker\n`);
      return 2;
    }
    return runServer(config, n > 1 ? (c, logger) => startPrimary(c, logger, n) : undefined);
  },
};

export default serve;
