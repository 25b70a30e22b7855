import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/types.js';

/**
 * Loads a config for a command: an invalid one prints its problems (one line each, no stack
 * trace) and yields exit code 2, before anything is opened.
 */
export function loadConfigForCommand(file: string): Config | 2 {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
