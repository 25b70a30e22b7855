import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { freePort } from './helpers/ports.js';
import { startRedis } from './helpers/redis.js';

// check-config --online meets Redis and the zmq endpoint as serve will: a PING with the
// configured settings, a bind of zmq.addr.

t.test('check-config --online: Redis answers or not, zmq.addr free or taken', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ft-doctor-redis-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await makePki(join(dir, 'pki'));
  const redis = await startRedis(dir);
  t.teardown(() => redis.stop());
  const zmqPort = await freePort();
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      host: '127.0.0.1',
      port: await freePort(),
      records: { V: ['redis', 'zmq'] },
      tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
      redis: { addrs: [`127.0.0.1:${redis.port}`], publish_vin_topics: true },
      zmq: { addr: `tcp://127.0.0.1:${zmqPort}` },
    }),
  );
  const up = await runCli(['check-config', config, '--online'], dir);
  t.equal(up.code, 0, up.stdout + up.stderr);
  t.match(up.stdout, new RegExp(`ok +redis: 127\\.0\\.0\\.1:${redis.port} \\(redis\\.addrs\\) answered PING with PONG`));
  t.match(up.stdout, new RegExp(`ok +zmq: tcp://127\\.0\\.0\\.1:${zmqPort} \\(zmq\\.addr\\) can be bound`));

  await redis.stop();
  const { Publisher } = await import('zeromq');
  const holder = new Publisher({ linger: 0 });
  await holder.bind(`tcp://127.0.0.1:${zmqPort}`);
  t.teardown(() => holder.close());
  const down = await runCli(['check-config', config, '--online'], dir);
  t.equal(down.code, 1, 'a failed check: exit 1');
  t.match(down.stdout, new RegExp(`fail +redis: 127\\.0\\.0\\.1:${redis.port} \\(redis\\.addrs\\): `));
  t.match(down.stdout, /fail +zmq: .* cannot be bound/);
});
