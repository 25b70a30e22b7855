import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { track } from './cleanup.js';
import { waitForPort } from './net.js';

const BINARY = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p)) ?? 'mosquitto';

export interface Broker {
  pid: number;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * mosquitto with a stock configuration: one loopback listener, anonymous, no persistence,
 * nothing tuned. Started here (not with the test helper) so its pid is known for CPU figures.
 */
export async function startBroker(dir: string, extra: string[] = []): Promise<Broker> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  // As root, mosquitto would switch to its own user; stay root so it can start in a temp dir.
  const user = process.getuid?.() === 0 ? ['user root'] : [];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ...user, ...extra].join('\n') + '\n');
  const proc = track(spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await Promise.race([
    waitForPort(port, 10_000),
    exited.then(() => {
      throw new Error(`mosquitto exited at start: ${stderr}`);
    }),
  ]);
  return {
    pid: proc.pid!,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
