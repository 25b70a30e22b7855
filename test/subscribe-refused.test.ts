import t from 'tap';
import { runCli, STACK, testdir } from './helpers/cli.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { freePort } from './helpers/ports.js';

// `subscribe` against a broker that refuses it or is not there: exit 1 and one stderr line naming
// the broker and the reason, instead of exit 0 (or retrying forever) with nothing printed.

t.setTimeout(120_000);

t.test('a password-protected mosquitto', async (t) => {
  const dir = testdir(t, {});
  const pwfile = join(dir, 'passwords');
  execFileSync('mosquitto_passwd', ['-b', '-c', pwfile, 'alice', 's3cret-pw']);
  const broker: Mosquitto = await startMosquitto(dir, { extraConfig: `allow_anonymous false\npassword_file ${pwfile}` });
  t.teardown(() => broker.stop());
  const at = `127.0.0.1:${broker.port}`;

  await t.test('wrong credentials: exit 1, the broker and the reason on stderr', async (t) => {
    const r = await runCli(['subscribe', '--broker', at, '--username', 'alice', '--password', 'wrong-pw', 'x/#'], dir);
    t.equal(r.code, 1, r.stderr);
    t.match(
      r.stderr,
      new RegExp(
        `^subscribe: mqtt://127\\.0\\.0\\.1:${broker.port} refused the connection as user "alice": (not authorized \\(CONNACK code 5\\)|bad user name or password \\(CONNACK code 4\\))$`,
        'm',
      ),
    );
    t.notMatch(r.stderr, /wrong-pw/);
    t.notMatch(r.stderr, STACK);
    t.equal(r.stdout, '');
  });

  await t.test('no credentials: exit 1, says it went without a user name', async (t) => {
    const r = await runCli(['subscribe', '--broker', at, 'x/#'], dir);
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, /^subscribe: mqtt:\/\/127\.0\.0\.1:\d+ refused the connection without a user name: not authorized/m);
  });

  await t.test('the right credentials: subscribed, exit 0 at --duration', async (t) => {
    const r = await runCli(['subscribe', '--broker', at, '--username', 'alice', '--password', 's3cret-pw', '--duration', '1', 'x/#'], dir);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, new RegExp(`subscribed to x/# on mqtt://127\\.0\\.0\\.1:${broker.port}`));
  });
});

t.test('a broker nobody listens on: exit 1, connection refused', async (t) => {
  const port = await freePort();
  const r = await runCli(['subscribe', '--broker', `127.0.0.1:${port}`, 'x/#'], testdir(t, {}));
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, new RegExp(`^subscribe: cannot reach mqtt://127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\)`, 'm'));
  t.notMatch(r.stderr, STACK);
});
