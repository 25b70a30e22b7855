import { execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './server.js';
import { accepting, deadline, freePort, trackChild, waitUntil } from './ports.js';

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

export interface HaproxyProcess {
  port: number;
  pid: number;
  lines: string[];
  /** Searches the lines from index `after` on, so an earlier DOWN does not answer for a later one. */
  waitFor(re: RegExp, after: number, ms: number): Promise<string>;
  stop(): Promise<void>;
}

/** Runs haproxy in the foreground on `file`; `env` fills its ${...} variables; FT_LB_BIND is set here. */
async function runHaproxy(file: string, env: NodeJS.ProcessEnv): Promise<HaproxyProcess> {
  if (!HAPROXY) throw new Error('haproxy is not installed');
  const port = await freePort();
  const proc = spawn(HAPROXY, ['-db', '-f', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, FT_LB_BIND: `127.0.0.1:${port}` },
  });
  trackChild(proc);
  const lines: string[] = [];
  let buf = '';
  const onData = (c: string) => {
    buf += c;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  proc.stdout.setEncoding('utf8').on('data', onData);
  proc.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await Promise.race([
    waitUntil(() => accepting(port), 10_000, 'haproxy to listen'),
    exited.then(() => {
      throw new Error(`haproxy exited: ${lines.join('\n')}`);
    }),
  ]);
  return {
    port,
    pid: proc.pid!,
    lines,
    waitFor: (re, after, ms) => waitUntil(() => lines.slice(after).find((l) => re.test(l)), ms, `haproxy: ${re}`),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await Promise.race([exited, deadline(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

const whoami = () => ({ FT_LB_USER: userInfo().username, FT_LB_GROUP: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() });

/** deploy/haproxy.cfg as shipped in front of servers given as [vehicle port, status port]. */
export function startVehicleLb(servers: { port: number; statusPort: number }[], checkInter = '500ms'): Promise<HaproxyProcess> {
  const env: NodeJS.ProcessEnv = { FT_CHECK_INTER: checkInter, FT_LB_LOG: 'stderr', ...whoami() };
  servers.forEach((s, i) => {
    env[`FT_SERVER${i + 1}_ADDR`] = `127.0.0.1:${s.port}`;
    env[`FT_SERVER${i + 1}_STATUS_PORT`] = String(s.statusPort);
  });
  return runHaproxy(join(repoRoot(), 'deploy', 'haproxy.cfg'), env);
}

/**
 * deploy/haproxy-tls.cfg as shipped: mTLS ended at haproxy in front of servers in tls.proxy mode.
 * `proxyCert` holds the certificate and its key in one PEM.
 */
export function startTlsLb(
  servers: { port: number; statusPort: number }[],
  files: { proxyCert: string; teslaCa: string; caFile: string },
  checkInter = '500ms',
): Promise<HaproxyProcess> {
  const env: NodeJS.ProcessEnv = {
    FT_CHECK_INTER: checkInter,
    FT_LB_LOG: 'stderr',
    FT_PROXY_CERT: files.proxyCert,
    FT_TESLA_CA: files.teslaCa,
    FT_CA_FILE: files.caFile,
    ...whoami(),
  };
  servers.forEach((s, i) => {
    env[`FT_SERVER${i + 1}_ADDR`] = `127.0.0.1:${s.port}`;
    env[`FT_SERVER${i + 1}_STATUS_PORT`] = String(s.statusPort);
  });
  return runHaproxy(join(repoRoot(), 'deploy', 'haproxy-tls.cfg'), env);
}

/**
 * One address for the broker cluster (deploy/README.md: "an address that reaches any live node").
 * `balance first`: every connection goes to the first live node, so killing node 1 takes every
 * server's broker connection with it; they reconnect here and land on node 2.
 */
export function startBrokerLb(dir: string, mqttPorts: number[]): Promise<HaproxyProcess> {
  const file = join(dir, `broker-lb-${Date.now()}.cfg`);
  writeFileSync(
    file,
    [
      'global',
      '    log stderr local0 info',
      'defaults',
      '    mode tcp',
      '    log global',
      // A line per connection as it reaches a node ("mqtt nodes/node1"): the failover run checks
      // which node held the servers' links before it kills one.
      '    option tcplog',
      '    option logasap',
      '    timeout connect 2s',
      '    timeout client 1h',
      '    timeout server 1h',
      'frontend mqtt',
      '    bind "${FT_LB_BIND}"',
      '    default_backend nodes',
      'backend nodes',
      '    balance first',
      '    option redispatch',
      '    retries 2',
      '    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions',
      ...mqttPorts.map((p, i) => `    server node${i + 1} 127.0.0.1:${p} check`),
      '',
    ].join('\n'),
  );
  return runHaproxy(file, whoami());
}
