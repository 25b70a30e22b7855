import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { CLI } from './server.js';

export { CLI };

/** A stack frame as Node prints it: no CLI error may show one. */
export const STACK = /^\s+at /m;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI and resolves on exit, without the MQTT credential variables of the caller's
 * environment. `until` ends a long-running command with SIGTERM once stdout matches; a command
 * still running after `killAfterMs` is killed (a hang is a failure, not a pass).
 */
export function runCli(
  args: string[],
  cwd: string,
  opts: { env?: Record<string, string>; until?: (stdout: string) => boolean; killAfterMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    delete env.FLEET_TELEMETRY_MQTT_USERNAME;
    delete env.FLEET_TELEMETRY_MQTT_PASSWORD;
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const guard = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!signalled && opts.until?.(stdout)) {
        signalled = true; // a second SIGTERM would find no handler and kill outright
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * t.testdir, named per process (another run of the suite in this checkout uses the same
 * .tap/fixtures names and would delete this run's files), as its real path.
 */
export function testdir(t: Test, content?: Parameters<Test['testdir']>[0]): string {
  if (!t.testdirName.endsWith(`-${process.pid}`)) t.testdirName = `${t.testdirName}-${process.pid}`;
  return realpathSync(t.testdir(content));
}
