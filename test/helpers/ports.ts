import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';

/**
 * A loopback port that was free a moment ago, for a process that binds it later. Taken below the
 * kernel's ephemeral range: a port from that range (listen on 0) can be given to any outgoing
 * connection of any process before the child binds it, and RabbitMQ, which binds 15 to 40 s
 * after it starts, failed with eaddrinuse that way.
 */
export async function freePort(): Promise<number> {
  const [low, high] = outsideEphemeral();
  for (let tries = 0; high - low > 1000 && tries < 50; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

/** The ports from 10000 up to the kernel's ephemeral range, which outgoing connections never take. */
function outsideEphemeral(): [number, number] {
  let first = 32768;
  try {
    first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || first;
  } catch {
    // Not Linux: its usual start.
  }
  return [10_000, first];
}

function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  );
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const bound = (s.address() as AddressInfo).port;
      s.close(() => resolve(bound));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A deadline for Promise.race that does not keep the test process alive once the race is won. */
export function deadline(ms: number): Promise<'timeout'> {
  return new Promise((r) => setTimeout(() => r('timeout'), ms).unref());
}

/** Polls `check` until it returns a truthy value or `ms` passes. */
export async function waitUntil<T>(check: () => T | Promise<T>, ms: number, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

const children = new Set<{ kill(signal?: NodeJS.Signals): boolean; exitCode: number | null }>();
let hooked = false;

/**
 * Child processes (servers, brokers) die with the test process, even when tap ends it on a
 * timeout: otherwise they outlive it and hold ports and CPU.
 */
export function trackChild(child: { kill(signal?: NodeJS.Signals): boolean; exitCode: number | null; once(ev: 'exit', fn: () => void): unknown }): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGALRM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig);
    });
  }
}

/** The last `max` characters a child wrote to its piped stdout and stderr, for an error that says why it stopped. */
export function printedTail(proc: ChildProcess, max = 4000): () => string {
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-max);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return () => text;
}

/**
 * Waits until `port` accepts; fails at once, with what the child printed, if it exits first
 * (a port taken between freePort and its bind, a bad flag), rather than after the whole wait.
 */
export async function untilAccepting(proc: ChildProcess, port: number, ms: number, what: string, printed: () => string = () => ''): Promise<void> {
  await waitUntil(
    async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new ExitedEarly(
          `${what} exited (${proc.exitCode ?? proc.signalCode}) before accepting on port ${port}: ${printed().trim() || 'it printed nothing'}`,
        );
      }
      return accepting(port);
    },
    ms,
    what,
  );
}

/** A child that ended before it listened. */
export class ExitedEarly extends Error {}

/** Whether something accepts TCP connections on a loopback port now. */
export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * kill -9 of `target` (a pid, or a process group as -pgid) once this test process is gone, even
 * by SIGKILL (tap's timeout and interrupt), when no exit hook runs: a watchdog reads a pipe from
 * us and acts on its end. Returns the disarm, to call once the target is gone (its pid may be reused).
 */
export function killWithTest(target: number): () => void {
  const dog = spawn('sh', ['-c', 'read _ || kill -KILL -- "$1"', 'sh', String(target)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  dog.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref(): void }).unref();
  return () => {
    if (dog.exitCode === null && dog.signalCode === null) dog.kill('SIGKILL');
  };
}

/** Whether `pid` is a live process (a zombie, killed but not reaped by init here, is not). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
