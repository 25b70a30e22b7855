import { loadConfigForCommand } from './config-file.js';
import { parseArgs, UsageError, type Command } from './command.js';
import { runServer } from '../server/run.js';

const usage = 'usage: fleet-telemetry serve --config FILE';

const serve: Command = {
  summary: 'run the vehicle server',
  usage,
  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config'] });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const file = (flags.config as string | undefined) ?? 'config.json';
    const config = loadConfigForCommand(file);
    if (config === 2) return 2;
    return runServer(config);
  },
};

export default serve;
