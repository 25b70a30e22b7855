import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './server.js';
import { accepting, deadline, freePort, trackChild, waitUntil } from './ports.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

/** The names deploy/nginx.conf asks envsubst to fill, read from its own header. */
export function nginxVariables(): string {
  const text = readFileSync(join(repoRoot(), 'deploy', 'nginx.conf'), 'utf8');
  const m = /envsubst '([^']+)'/.exec(text);
  if (!m) throw new Error('deploy/nginx.conf names no envsubst variables');
  return m[1];
}

export interface NginxProcess {
  port: number;
  pid: number;
  lines: string[];
  stop(): Promise<void>;
}

/**
 * deploy/nginx.conf as shipped, rendered by envsubst with the variables its header names (as its
 * header tells an operator to), run in the foreground on a free loopback port.
 */
export async function startNginx(dir: string, env: Record<string, string>): Promise<NginxProcess> {
  if (!NGINX) throw new Error('nginx is not installed');
  const port = await freePort();
  const full = { ...env, FT_PROXY_LISTEN: `127.0.0.1:${port}`, FT_PROXY_ACCESS_LOG: 'off' };
  const conf = join(dir, `nginx-${port}.conf`);
  const rendered = execFileSync('envsubst', [nginxVariables()], {
    input: readFileSync(join(repoRoot(), 'deploy', 'nginx.conf'), 'utf8'),
    env: { ...process.env, ...full },
    encoding: 'utf8',
  });
  writeFileSync(conf, rendered);
  // Only what a test run must not share with an installed nginx: its pid file and where it logs.
  const proc = spawn(NGINX, ['-c', conf, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, `nginx-${port}.pid`)}; error_log stderr info;`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(proc);
  const lines: string[] = [];
  const onData = (c: string) => lines.push(...c.split('\n').filter(Boolean));
  proc.stdout.setEncoding('utf8').on('data', onData);
  proc.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await Promise.race([
    waitUntil(() => accepting(port), 10_000, 'nginx to listen'),
    exited.then(() => {
      throw new Error(`nginx exited: ${lines.join('\n')}`);
    }),
  ]);
  return {
    port,
    pid: proc.pid!,
    lines,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      // SIGQUIT would wait for the vehicles' WebSockets; SIGTERM is nginx's fast shutdown.
      proc.kill('SIGTERM');
      await Promise.race([exited, deadline(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
