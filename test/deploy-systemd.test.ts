import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, repoRoot } from './helpers/server.js';

// deploy/fleet-telemetry.service: what systemd itself says about it (`systemd-analyze verify`),
// and the settings deploy/README.md promises.

const UNIT = join(repoRoot(), 'deploy', 'fleet-telemetry.service');
const SHIPPED_EXEC = 'ExecStart=/usr/bin/node /opt/fleet-telemetry/dist/cli.js serve --config /etc/fleet-telemetry/config.json';
// The default mqtt.publish_timeout_ms; serve gives up draining publish_timeout_ms + 10 s after SIGTERM.
const DRAIN_BOUND_S = 2.5 + 10;

function analyze(args: string[]): { status: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** The key's values in [Service] (a key may repeat). */
function values(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1).trim());
}

const unit = readFileSync(UNIT, 'utf8');

t.test('the unit runs the installed server with its config, drains on SIGTERM and is hardened', async (t) => {
  t.ok(unit.split('\n').includes(SHIPPED_EXEC), 'ExecStart: node, dist/cli.js serve --config /etc/fleet-telemetry/config.json');
  t.same(values(unit, 'Type'), ['simple']);
  t.same(values(unit, 'User'), ['fleet-telemetry'], 'a dedicated user');
  t.same(values(unit, 'Restart'), ['on-failure']);
  t.same(values(unit, 'RestartPreventExitStatus'), ['2'], 'an invalid config (exit 2) is not restarted in a loop');
  t.same(values(unit, 'KillSignal'), ['SIGTERM'], 'SIGTERM: the server drains');
  const stop = values(unit, 'TimeoutStopSec')[0];
  t.match(stop, /^\d+s$/);
  t.ok(parseInt(stop, 10) > DRAIN_BOUND_S, `TimeoutStopSec ${stop} is above the drain bound (${DRAIN_BOUND_S} s)`);
  t.same(values(unit, 'LimitNOFILE'), ['65536']);
  t.same(values(unit, 'AmbientCapabilities'), ['CAP_NET_BIND_SERVICE'], 'may bind port 443 without root');
  for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) t.same(values(unit, k), ['true'], k);
  t.same(values(unit, 'ProtectSystem'), ['strict']);
});

const probe = analyze(['--version']);
const cannot = probe.error ? `systemd-analyze cannot run here (${probe.error.code ?? probe.error.message}): the unit is not verified` : false;

t.test('systemd-analyze verify: no complaint about the unit', { skip: cannot }, async (t) => {
  const dir = t.testdir();
  // The same unit with ExecStart on this machine's node and this build, so verify can check that
  // the command exists and is executable.
  const local = unit.replace(SHIPPED_EXEC, `ExecStart=${process.execPath} ${CLI} serve --config /etc/fleet-telemetry/config.json`);
  t.not(local, unit, 'ExecStart pointed at this build');
  const file = join(dir, 'fleet-telemetry.service');
  writeFileSync(file, local);
  const r = analyze(['verify', file]);
  // The user exists only where the unit is installed; nothing is created on this machine.
  const complaints = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '' && !/\buser\b|\bgroup\b/i.test(l));
  t.same(complaints, [], 'nothing reported');
  t.equal(r.status, 0, 'exit 0');

  // The same check sees a mistake: a misspelt setting, which systemd only warns about and ignores.
  const bdir = join(dir, 'broken');
  mkdirSync(bdir);
  writeFileSync(join(bdir, 'fleet-telemetry.service'), local.replace('ProtectHome=true', 'ProtectHomes=true'));
  const rb = analyze(['verify', join(bdir, 'fleet-telemetry.service')]);
  t.match(rb.stdout + rb.stderr, /Unknown key 'ProtectHomes'/, 'a misspelt key is reported: the empty report above means something');

  // systemd's own exposure score of the sandbox (0 safest, 10 none): "OK" is below 5.
  const sec = analyze(['security', '--offline=true', file]);
  const score = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.stdout + sec.stderr);
  if (!score) t.comment(`systemd-analyze security --offline gave no score here: ${(sec.stdout + sec.stderr).slice(-200)}`);
  else t.ok(Number(score[1]) < 5, `exposure level ${score[1]} (below 5: OK)`);
});
