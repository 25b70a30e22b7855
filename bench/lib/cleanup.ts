import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Children and temporary directories that must not outlive the bench, whatever way it ends:
 * normal exit, an exception, Ctrl-C or SIGTERM. Kills are by pid of processes we started.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function killAll(signal: NodeJS.Signals): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGCONT');
        c.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }
}

function removeDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export function track(child: ChildProcess): ChildProcess {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function trackDir(dir: string): string {
  install();
  dirs.add(dir);
  return dir;
}

/** Hard deadline for the whole script: a stuck phase cannot keep it (and its children) alive. */
export function deadlineExit(ms: number, what: string): void {
  install();
  setTimeout(() => {
    process.stderr.write(`\n${what}: gave up after ${Math.round(ms / 1000)} s; cleaning up\n`);
    process.exit(3);
  }, ms).unref();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAll('SIGKILL');
    removeDirs();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping the broker and the server\n`);
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
