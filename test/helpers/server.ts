import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deadline, trackChild, waitUntil } from './ports.js';

/** The repository root (holds package.json and dist/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found');
    dir = up;
  }
  return dir;
}

export const CLI = join(repoRoot(), 'dist', 'cli.js');

export interface LogLine {
  level: number;
  event?: string;
  msg?: string;
  [k: string]: unknown;
}

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  statusPort?: number;
  brokerPort?: number;
  logs: LogLine[];
  stderr: string[];
  waitForLog(pred: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * `make test-workers` runs the suite with FT_TEST_WORKERS=2: every server a test starts gets
 * `workers: 2` unless the test sets `workers` itself.
 */
export function testWorkers(env: NodeJS.ProcessEnv = process.env): { workers?: number } {
  const v = env.FT_TEST_WORKERS;
  if (v === undefined || v === '') return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FT_TEST_WORKERS must be a positive integer, not ${JSON.stringify(v)}`);
  return { workers: n };
}

/**
 * The Home Assistant availability a server whose status topic is `statusTopic` announces: that
 * topic, or with workers (make test-workers) every worker's, any of them online.
 */
export function expectedAvailability(statusTopic: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const n = testWorkers(env).workers ?? 1;
  const entry = (topic: string) => ({ topic, payload_available: 'online', payload_not_available: 'offline' });
  if (n === 1) return { availability: [entry(statusTopic)] };
  const base = statusTopic.replace(/\/status$/, '');
  return { availability: Array.from({ length: n }, (_, i) => entry(`${base}-w${i + 1}/status`)), availability_mode: 'any' };
}

/** The config topics of the server's own status entity: one, or one per worker (make test-workers). */
export function serverStatusConfigs(prefix: string, deviceId: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const n = testWorkers(env).workers ?? 1;
  if (n === 1) return [`${prefix}/binary_sensor/${deviceId}/status/config`];
  return Array.from({ length: n }, (_, i) => `${prefix}/binary_sensor/${deviceId}/status_w${i + 1}/config`);
}

/**
 * Whether `topic` is the server's status topic `statusTopic`, or, with workers (make
 * test-workers), one worker's: the client id level suffixed -w<k>.
 */
export function isStatusTopic(topic: string, statusTopic: string): boolean {
  if (topic === statusTopic) return true;
  const m = /^(.*)\/status$/.exec(statusTopic);
  return !!m && topic.startsWith(`${m[1]}-w`) && /^-w\d+\/status$/.test(topic.slice(m[1].length));
}

/** Runs the real CLI (`serve --config FILE`) with JSON logs and waits until it listens. */
export async function startServer(
  dir: string,
  config: Record<string, unknown>,
  opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<ServerProcess> {
  const file = join(dir, `config-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`);
  writeFileSync(file, JSON.stringify({ json_log_enable: true, log_level: 'debug', host: '127.0.0.1', port: 0, ...testWorkers(), ...config }, null, 2));
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', file, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  trackChild(proc);
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 0, msg: line });
      }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waitForLog = (pred: (l: LogLine) => boolean, ms = 10_000) => waitUntil(() => logs.find(pred), ms, 'log line');
  // Until it listens or exits, not a fixed time: on a busy machine a server with workers took
  // over 15 s to start (tap's timeout still ends a hang).
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  const listening = await waitUntil(
    () => logs.find((l) => l.event === 'listening') ?? (gone() ? ('exited' as const) : undefined),
    Infinity,
    'the server to listen',
  );
  if (listening === 'exited') {
    const code = await exited;
    throw new Error(`server exited with ${code}: ${stderr.join('')} ${JSON.stringify(logs)}`);
  }
  const broker = logs.find((l) => l.event === 'embedded_broker_listening');
  return {
    proc,
    port: listening.port as number,
    statusPort: listening.status_port as number | undefined,
    brokerPort: broker?.port as number | undefined,
    logs,
    stderr,
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM', ms = 15_000) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const code = await Promise.race([exited, deadline(ms)]);
      if (code === 'timeout') {
        proc.kill('SIGKILL');
        throw new Error(`server did not exit within ${ms} ms after ${signal}`);
      }
      return code;
    },
  };
}

/**
 * Resolves once every MQTT client of the server is connected: one, or one per worker (make
 * test-workers), each logging its own mqtt_connected.
 */
export async function brokerConnected(server: ServerProcess, ms = 10_000): Promise<void> {
  const clients = testWorkers().workers ?? 1;
  await waitUntil(() => server.logs.filter((l) => l.event === 'mqtt_connected').length >= clients, ms, `${clients} MQTT client(s) connected`);
}
