import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fixturesDir } from './fixtures.js';
import { deadline, trackChild } from './ports.js';

/** Kafka protocol request kinds the tests inject errors into. */
export const API_PRODUCE = 0;

/** Kafka error codes the tests inject. */
export const KAFKA_ERR = { NOT_LEADER_OR_FOLLOWER: 6, REQUEST_TIMED_OUT: 7, NOT_ENOUGH_REPLICAS: 19, NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20 } as const;

export interface KafkaMock {
  /** "host:port,host:port,…" */
  bootstrap: string;
  pid: number;
  /** Brokers are numbered from 1; -1 means all of them. */
  down(broker: number): Promise<void>;
  up(broker: number): Promise<void>;
  rtt(broker: number, ms: number): Promise<void>;
  /** The next `codes.length` requests of `apiKey` fail with these Kafka error codes, in order. */
  errors(apiKey: number, codes: number[]): Promise<void>;
  topic(name: string, partitions: number, replication: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * test/kafka-mock/launcher.c compiled with gcc into build/kafka-mock/ when missing or older than
 * its source (the compiled tests run from build/test/, so the repository is two levels up).
 */
export function kafkaLauncher(): string {
  const repo = dirname(dirname(fixturesDir()));
  const source = join(repo, 'test', 'kafka-mock', 'launcher.c');
  const binary = join(repo, 'build', 'kafka-mock', 'launcher');
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(dirname(binary), { recursive: true });
  // Built aside and renamed: two test files building at once never run a half-written binary.
  const partial = `${binary}.${process.pid}`;
  execFileSync('gcc', ['-O1', '-Wall', '-o', partial, source, '-lrdkafka'], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(partial, binary);
  return binary;
}

/**
 * A Kafka cluster of `brokers` brokers: librdkafka's mock cluster, run by the launcher. It exits
 * when its stdin closes, so it never outlives the test process.
 */
export async function startKafkaMock(brokers = 3): Promise<KafkaMock> {
  const proc: ChildProcess = spawn(kafkaLauncher(), [String(brokers)], { stdio: ['pipe', 'pipe', 'pipe'] });
  trackChild(proc);
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout! });
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else early.push(l);
  });
  const next = (what: string) =>
    new Promise<string>((resolve, reject) => {
      const l = early.shift();
      if (l !== undefined) return resolve(l);
      const onExit = () => reject(new Error(`kafka mock exited waiting for ${what}: ${stderr}`));
      proc.once('exit', onExit);
      waiting.push((line) => {
        proc.off('exit', onExit);
        resolve(line);
      });
    });
  const first = await next('its bootstrap servers');
  const m = /^bootstrap (\S+)$/.exec(first);
  if (!m) throw new Error(`kafka mock printed ${first}`);
  // One command at a time: each answer belongs to the command before it.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (line: string) => {
    const run = queue.then(async () => {
      proc.stdin!.write(`${line}\n`);
      const answer = await next(line);
      if (answer !== 'ok') throw new Error(`kafka mock: ${line}: ${answer}`);
    });
    queue = run.catch(() => {});
    return run;
  };
  return {
    bootstrap: m[1],
    pid: proc.pid!,
    down: (b) => command(`down ${b}`),
    up: (b) => command(`up ${b}`),
    rtt: (b, ms) => command(`rtt ${b} ${ms}`),
    errors: (api, codes) => command(`errors ${api} ${codes.join(' ')}`),
    topic: (name, p, r) => command(`topic ${name} ${p} ${r}`),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, deadline(5000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
