import { loadConfigForCommand } from './config-file.js';
import { parseArgs, UsageError, type Command } from './command.js';
import { baseFromConfig, baseFromUrl, ENABLE_HINT, fetchFleet, type FetchResult } from './fleet-fetch.js';
import { renderFleet } from './vehicles-render.js';

const DEFAULT_CONFIG = 'config.example.json';
const DEFAULT_INTERVAL_S = 2;

const usage = [
  'usage: fleet-telemetry vehicles [--config FILE | --url URL] [--watch [--interval S]] [--json] [--no-color]',
  '',
  "The fleet from the server's monitoring port (GET /api/fleet): a health line, then one row per",
  'vehicle seen since the server started: VIN, name, connected or since when disconnected, last',
  'frame, frames, fields, battery, speed, gear, charging state and last trip score.',
  '',
  `  --config FILE   find the monitoring port in this server config (default ${DEFAULT_CONFIG})`,
  '  --url URL       the monitoring port instead, e.g. http://127.0.0.1:9273',
  `  --watch         redraw every --interval seconds (default ${DEFAULT_INTERVAL_S}) until interrupted; on a`,
  '                  terminal in place, otherwise one snapshot after another, a blank line apart',
  '  --interval S    seconds between refreshes with --watch',
  '  --json          print the body as the server sent it (with --watch: one line per refresh)',
  '  --no-color      no colours (also when NO_COLOR is set or the output is not a terminal)',
  '',
  'Exit status: 0 when shown (with --watch: when interrupted); 1 when the monitoring port cannot be',
  'reached or does not answer with a fleet view; 2 for a wrong command line or an invalid config.',
].join('\n');

/** Where to read the fleet, or the exit code of a config that says nowhere. */
function target(flags: Record<string, unknown>): string | number {
  if (flags.url !== undefined && flags.config !== undefined) throw new UsageError('give --config or --url, not both');
  if (flags.url !== undefined) return `${baseFromUrl(flags.url as string)}/api/fleet`;
  const file = (flags.config as string | undefined) ?? DEFAULT_CONFIG;
  const cfg = loadConfigForCommand(file);
  if (cfg === 2) return 2;
  const where = baseFromConfig(cfg, file);
  if ('missing' in where) {
    process.stderr.write(`vehicles: ${where.missing}\n${ENABLE_HINT}\n`);
    return 1;
  }
  return `${where.base}/api/fleet`;
}

const vehicles: Command = {
  summary: 'the fleet table from the monitoring port (--watch to keep it fresh)',
  usage,

  async run(argv) {
    const { flags, positionals } = parseArgs(argv, { strings: ['config', 'url', 'interval'], booleans: ['watch', 'json', 'no-color'] });
    if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const watch = flags.watch === true;
    if (flags.interval !== undefined && !watch) throw new UsageError('--interval needs --watch');
    const interval = flags.interval === undefined ? DEFAULT_INTERVAL_S : Number(flags.interval);
    if (!(interval >= 0.1 && interval <= 86_400)) throw new UsageError('--interval needs a number of seconds from 0.1 to 86400');
    const url = target(flags);
    if (typeof url === 'number') return url;

    const out = process.stdout;
    const tty = out.isTTY === true;
    const color = tty && flags['no-color'] !== true && !process.env.NO_COLOR;
    const json = flags.json === true;
    // A terminal that reports no width (0 columns: some CI and serial consoles), or not a terminal:
    // COLUMNS, when set, still limits the width (as for ls); else no limit.
    const columns = Number(process.env.COLUMNS);
    const width = tty && out.columns > 0 ? out.columns : Number.isInteger(columns) && columns > 0 ? columns : undefined;
    const cannotReach = (r: { why: string }) => `vehicles: cannot reach the monitoring port at ${url}: ${r.why}`;

    let stopped = false;
    const stopper = new AbortController();
    let wake = () => {};
    const stop = () => {
      stopped = true;
      stopper.abort();
      wake();
    };
    // A reader that went away (`| head`) ends the command, not an error.
    out.on('error', stop);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);

    const draw = (r: Extract<FetchResult, { ok: true }>, first: boolean) => {
      if (json) return out.write(r.text.trim() + '\n');
      if (!watch) return out.write(renderFleet(r.body, { width, color }));
      if (!tty) return out.write(`${first ? '' : '\n'}at ${new Date(r.body.at).toISOString()}\n${renderFleet(r.body, { width, color: false })}`);
      // In place: home, each line cleared to its end, then everything below the view cleared.
      const head = `${url} · every ${interval} s · ${new Date().toLocaleTimeString()}`;
      const view = renderFleet(r.body, { width, maxRows: Math.max(1, (out.rows || 24) - 6), color });
      const title = color ? `\x1b[2m${head}\x1b[0m` : head;
      out.write(`${first ? '\x1b[2J' : ''}\x1b[H${[title, ...view.trimEnd().split('\n')].map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    };

    let first = true;
    try {
      while (!stopped) {
        const r = await fetchFleet(url, stopper.signal);
        if (stopped) break;
        if (r.ok) {
          draw(r, first);
          first = false;
        } else if (first) {
          // Nothing shown yet: the command failed, whether or not it was to keep watching.
          process.stderr.write(`${cannotReach(r)}\n${ENABLE_HINT}\n`);
          return 1;
        } else if (tty && !json) {
          out.write(`\x1b[H${cannotReach(r)}; retrying every ${interval} s\x1b[K\n\x1b[J`);
        } else {
          process.stderr.write(`${cannotReach(r)}; retrying every ${interval} s\n`);
        }
        if (!watch || stopped) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, interval * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};

export default vehicles;
