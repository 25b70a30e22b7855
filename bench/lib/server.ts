import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { CLI } from '../../test/helpers/server.js';
import { track } from './cleanup.js';
import { waitForPort } from './net.js';

export interface BenchServer {
  pid: number;
  port: number;
  /** Log lines by `event` (warn and above at the default level): what went wrong, and how often. */
  events: Map<string, number>;
  samples: Map<string, string>;
  stderrTail(): string;
  alive(): boolean;
  stop(): Promise<number | null>;
  /** kill -9, resolved once it has exited. */
  kill(): Promise<void>;
}

/**
 * The real CLI (`node dist/cli.js serve --config FILE`) on a port picked here, so it can run at
 * log level warn (the helper in test/ waits for an info line). JSON logs are tallied by event.
 */
export async function launchServer(
  dir: string,
  config: Record<string, unknown>,
  opts: { nodeOptions?: string; logFile?: string; port?: number } = {},
): Promise<BenchServer> {
  // A given port: a restarted server takes its predecessor's (bench/storm.ts).
  const port = opts.port ?? (await freePort());
  const file = join(dir, `server-${port}-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ json_log_enable: true, host: '127.0.0.1', port, ...config }, null, 2));
  // Node flags for the server alone (e.g. --cpu-prof, --trace-gc), not for the bench.
  const nodeArgs = opts.nodeOptions ? opts.nodeOptions.split(/\s+/).filter(Boolean) : [];
  const proc = track(spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const logTo = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const events = new Map<string, number>();
  const samples = new Map<string, string>();
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    logTo?.write(chunk);
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let ev = 'unparsed';
      try {
        const o = JSON.parse(line) as { event?: string; level?: number };
        ev = o.event ?? `level_${o.level}`;
      } catch {
        /* a non-JSON line still counts */
      }
      events.set(ev, (events.get(ev) ?? 0) + 1);
      if (!samples.has(ev)) samples.set(ev, line.slice(0, 400));
    }
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
    logTo?.write(c);
    stderr = (stderr + c).slice(-4000);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await Promise.race([
    waitForPort(port, 15_000),
    exited.then((code) => {
      throw new Error(`server exited with ${code} at start: ${stderr}`);
    }),
  ]);
  return {
    pid: proc.pid!,
    port,
    events,
    samples,
    stderrTail: () => stderr,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
