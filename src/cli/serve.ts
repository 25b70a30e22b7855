import { parseArgs, UsageError, type Command } from './command.js';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { runServer } from '../server/run.js';

const usage = 'usage: fleet-telemetry serve --config FILE';

const serve: Command = {
  summary: 'run the vehicle server',
  usage,
  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config'] });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const file = (flags.config as string | undefined) ?? 'config.json';
    let config;
    try {
      config = loadConfigFile(file);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        return 2;
      }
      throw err;
    }
    return runServer(config);
  },
};

export default serve;
