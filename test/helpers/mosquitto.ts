import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accepting, deadline, freePort, printedTail, trackChild, untilAccepting, waitUntil } from './ports.js';

const BINARY = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p)) ?? 'mosquitto';

export interface Mosquitto {
  port: number;
  url: string;
  /** SIGSTOP: the broker keeps its sockets open and answers nothing. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

/** A real mosquitto on a free loopback port, started and stopped by the test. */
export async function startMosquitto(
  dir: string,
  opts: { port?: number; extraConfig?: string; persistent?: boolean; listener?: string } = {},
): Promise<Mosquitto> {
  const port = opts.port ?? (await freePort());
  const conf = join(dir, `mosquitto-${port}.conf`);
  // Run as root, mosquitto drops to its own user, which cannot write the test's persistence files.
  const user = process.getuid?.() === 0 ? ['user root'] : [];
  const persistence = opts.persistent ? ['persistence true', `persistence_location ${dir}/`, `persistence_file mosquitto-${port}.db`] : ['persistence false'];
  writeFileSync(
    conf,
    [opts.listener ?? `listener ${port} 127.0.0.1`, 'allow_anonymous true', ...user, ...persistence, opts.extraConfig ?? ''].join('\n') + '\n',
  );
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    trackChild(proc);
    await untilAccepting(proc, port, 10_000, `mosquitto on port ${port}`, printedTail(proc));
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGCONT');
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, deadline(3000)]);
    if (p.exitCode === null) p.kill('SIGKILL');
    await waitUntil(async () => !(await accepting(port)), 5000, 'mosquitto to stop');
  };
  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    pause: () => proc?.kill('SIGSTOP'),
    resume: () => proc?.kill('SIGCONT'),
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
