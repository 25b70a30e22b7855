import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { makePki, type TestPki } from './helpers/pki.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { repoRoot, startServer, type ServerProcess } from './helpers/server.js';
import { HAPROXY, startVehicleLb, type HaproxyProcess } from './helpers/haproxy.js';
import { subscribe } from './helpers/subscriber.js';
import { connectVehicle, vFrame, type VehicleClient } from './helpers/vehicle.js';
import { deadline, sleep, waitUntil } from './helpers/ports.js';

// deploy/haproxy.cfg, exactly as shipped (only its ${...} variables set), in front of two real
// servers on one real mosquitto: TCP passthrough keeps mTLS end to end, vehicles are spread,
// a killed server's vehicles come back through the other one, and a broker outage marks both
// servers down without cutting a connected vehicle.

const CONFIG = join(repoRoot(), 'deploy', 'haproxy.cfg');
const TOPIC_BASE = 'fleet';
// Shorter than the shipped 2s so that `fall 3` marks a server down in about 1.5 s.
const INTER = '500ms';

function startHaproxy(servers: ServerProcess[]): Promise<HaproxyProcess> {
  return startVehicleLb(
    servers.map((s) => ({ port: s.port, statusPort: s.statusPort! })),
    INTER,
  );
}

/** A vehicle that goes through the load balancer and reconnects there when its connection ends. */
class Car {
  client?: VehicleClient;
  connections = 0;
  private n = 0;
  constructor(
    readonly vin: string,
    private readonly lbPort: number,
    private readonly pki: TestPki,
  ) {}

  get open(): boolean {
    return this.client?.ws.readyState === WebSocket.OPEN;
  }

  async connect(ms = 15_000): Promise<void> {
    const cert = await this.pki.vehicle(this.vin);
    await waitUntil(
      async () => {
        try {
          this.client = await connectVehicle(this.lbPort, cert, this.pki.ca.certPem);
          this.connections++;
          return true;
        } catch {
          await sleep(100);
          return false;
        }
      },
      ms,
      `${this.vin} to connect through haproxy`,
    );
  }

  frame(): { txid: string; bytes: Uint8Array } {
    const txid = `${this.vin}-${++this.n}`;
    return { txid, bytes: vFrame(txid, this.vin, [{ key: 'VehicleSpeed', value: { float_value: 50 + this.n } }]) };
  }

  /** Sends a frame and resends it (after a reconnect when the connection ended) until it is acked. */
  async sendUntilAcked(f: { txid: string; bytes: Uint8Array }, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!this.open) await this.connect(Math.max(1, end - Date.now()));
      const c = this.client!;
      c.send(f.bytes);
      const r = await Promise.race([c.response(f.txid, 1000).catch(() => undefined), c.closed.then(() => undefined)]);
      if (r?.kind === 'ack') return;
      if (r?.kind === 'error') throw new Error(`${this.vin}: error response ${r.reason}`);
    }
    throw new Error(`${this.vin}: ${f.txid} not acked within ${ms} ms`);
  }
}

t.test(
  'deploy/haproxy.cfg: passthrough, spread, failover, readiness without cutting sessions',
  { skip: HAPROXY ? false : 'haproxy is not installed (scripts/test-deps.sh installs it)' },
  async (t) => {
    const dir = t.testdir();
    const pki = await makePki(dir);
    const mosq = await startMosquitto(dir);
    t.teardown(() => mosq.stop());
    const servers: ServerProcess[] = [];
    for (const i of [1, 2]) {
      const s = await startServer(dir, {
        status_port: 0,
        records: { V: ['mqtt'] },
        tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
        mqtt: { broker: mosq.url, qos: 1, client_id: `fleet-telemetry-deploy-test-${i}`, topic_base: TOPIC_BASE, connect_retry_interval_ms: 300 },
      });
      t.teardown(() => s.stop('SIGTERM').catch(() => s.proc.kill('SIGKILL')));
      servers.push(s);
    }
    for (const s of servers) await s.waitForLog((l) => l.event === 'mqtt_connected');
    const lb = await startHaproxy(servers);
    t.teardown(() => lb.stop());
    const sub = await subscribe(mosq.url, `${TOPIC_BASE}/#`);
    t.teardown(() => sub.close());
    const cars: Car[] = [];
    t.teardown(() => Promise.all(cars.map(async (c) => c.client?.close())));
    /** The server that logged this connection of the car (its nth `vehicle_connected`). */
    const serverOf = async (car: Car): Promise<number> => {
      const nth = await waitUntil(
        () => {
          const per = servers.map((s) => s.logs.filter((l) => l.event === 'vehicle_connected' && l.vin === car.vin).length);
          return per.reduce((a, b) => a + b, 0) >= car.connections ? per : undefined;
        },
        5000,
        `${car.vin}'s vehicle_connected`,
      );
      // A car has one connection at a time: it is on the live server that logged more connections
      // than disconnections for it (a killed server logs no disconnection).
      const open = servers.map((s) => {
        if (s.proc.exitCode !== null || s.proc.signalCode !== null) return 0;
        const c = s.logs.filter((l) => l.event === 'vehicle_connected' && l.vin === car.vin).length;
        const d = s.logs.filter((l) => l.event === 'vehicle_disconnected' && l.vin === car.vin).length;
        return c - d;
      });
      const i = open.findIndex((o) => o > 0);
      return i >= 0 ? i : nth.findIndex((n) => n > 0);
    };

    await t.test('a vehicle through haproxy is identified by its certificate and acked', async (t) => {
      const car = new Car('5YJ3E1EA7KF000101', lb.port, pki);
      cars.push(car);
      await car.connect();
      const f = car.frame();
      await car.sendUntilAcked(f, 10_000);
      const on = await serverOf(car);
      t.ok(on >= 0, `the server read the VIN from the client certificate (server ${on + 1} logged it)`);
      await sub.waitFor((m) => m.some((x) => x.topic === `${TOPIC_BASE}/${car.vin}/v/VehicleSpeed`), 5000, 'the field');
      const m = sub.messages.find((x) => x.topic === `${TOPIC_BASE}/${car.vin}/v/VehicleSpeed`)!;
      t.same(JSON.parse(m.payload), { value: 51 }, 'its field on <topic_base>/<VIN>/v/<Field>');
      // haproxy does not terminate TLS: the server still refuses what it would refuse directly.
      await t.rejects(connectVehicle(lb.port, pki.stranger, pki.ca.certPem), 'a certificate from another CA is refused through haproxy');
      await t.rejects(connectVehicle(lb.port, undefined, pki.ca.certPem), 'no certificate is refused through haproxy');
    });

    await t.test('vehicles are spread over both servers', async (t) => {
      for (let i = 2; i <= 7; i++) {
        const car = new Car(`5YJ3E1EA7KF0001${String(i).padStart(2, '0')}`, lb.port, pki);
        cars.push(car);
        await car.connect();
        await car.sendUntilAcked(car.frame(), 10_000);
      }
      const per = [0, 0];
      for (const car of cars) per[await serverOf(car)]++;
      t.comment(`vehicles per server: ${per.join(', ')}`);
      t.ok(per[0] >= 2 && per[1] >= 2, `both servers hold vehicles (${per.join(' and ')})`);
    });

    await t.test('broker down: both servers not ready, marked down, no session cut; back: acked again', async (t) => {
      const closedEarly = cars.map((c) => c.client!.closed.then(() => c.vin));
      let cut: string | undefined;
      void Promise.race(closedEarly).then((vin) => (cut = vin));
      const mark = lb.lines.length;
      await mosq.stop();
      const readyz = async (s: ServerProcess) => (await fetch(`http://127.0.0.1:${s.statusPort}/readyz`)).status;
      await waitUntil(async () => (await readyz(servers[0])) === 503 && (await readyz(servers[1])) === 503, 10_000, 'both /readyz 503');
      t.pass('both servers answer 503 on /readyz');
      await lb.waitFor(/fleet_telemetry_servers\/ft1 is DOWN/, mark, 10_000);
      await lb.waitFor(/fleet_telemetry_servers\/ft2 is DOWN/, mark, 10_000);
      t.pass('haproxy marked both servers down');
      // A frame sent now gets no ack (nothing can be published); the car resends it later.
      const pending = cars[0].frame();
      cars[0].client!.send(pending.bytes);
      await sleep(1500);
      t.equal(cut, undefined, 'no vehicle connection was closed');
      t.ok(
        cars.every((c) => c.open),
        `all ${cars.length} vehicles still connected while both servers are down`,
      );
      t.notOk(
        cars[0].client!.responses.some((r) => r.txid === pending.txid),
        'no ack while the broker is away',
      );

      const conns = cars.map((c) => c.connections);
      const back = lb.lines.length;
      await mosq.start();
      await lb.waitFor(/fleet_telemetry_servers\/ft1 is UP/, back, 15_000);
      await lb.waitFor(/fleet_telemetry_servers\/ft2 is UP/, back, 15_000);
      t.pass('haproxy marked both servers up again');
      await cars[0].sendUntilAcked(pending, 15_000);
      await Promise.all(cars.slice(1).map((c) => c.sendUntilAcked(c.frame(), 15_000)));
      t.same(
        cars.map((c) => c.connections),
        conns,
        'every frame acked on the connection that stayed open through the outage',
      );
      t.equal(cut, undefined, 'still no vehicle connection closed');
    });

    await t.test('kill -9 of one server: its vehicles reconnect through haproxy and are acked again', async (t) => {
      const on = await Promise.all(cars.map((c) => serverOf(c)));
      const victim = on.filter((i) => i === 0).length >= on.filter((i) => i === 1).length ? 0 : 1;
      const survivor = 1 - victim;
      const moved = cars.filter((_, i) => on[i] === victim);
      const stayed = cars.filter((_, i) => on[i] === survivor);
      t.ok(moved.length >= 2, `${moved.length} vehicles on server ${victim + 1}`);
      const killedAt = Date.now();
      servers[victim].proc.kill('SIGKILL');
      await servers[victim].exited;
      const times = await Promise.all(
        moved.map(async (c) => {
          await Promise.race([c.client!.closed, deadline(5000)]);
          await c.sendUntilAcked(c.frame(), 20_000);
          return Date.now() - killedAt;
        }),
      );
      t.comment(`acked again after ${times.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`);
      t.ok(Math.max(...times) < 10_000, `every moved vehicle acked again within 10 s (slowest ${(Math.max(...times) / 1000).toFixed(1)} s)`);
      for (const c of moved) t.equal(await serverOf(c), survivor, `${c.vin} now on server ${survivor + 1}`);
      await Promise.all(stayed.map((c) => c.sendUntilAcked(c.frame(), 10_000)));
      t.ok(
        stayed.every((c) => c.connections === 1),
        'vehicles on the other server kept their connection',
      );
      const fields = new Set(sub.messages.filter((m) => m.topic.endsWith('/v/VehicleSpeed')).map((m) => m.topic));
      t.equal(fields.size, cars.length, 'every vehicle has its field on the broker');
    });
  },
);

t.test('deploy/haproxy.cfg as documented: its variables, the check, no session shutdown', async (t) => {
  const cfg = readFileSync(CONFIG, 'utf8');
  const directives = cfg
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  t.ok(directives.includes('mode tcp'), 'TCP passthrough');
  t.ok(directives.includes('option httpchk GET /readyz'), 'checks readiness');
  t.ok(directives.includes('http-check expect status 200'), 'in service only on 200');
  t.ok(directives.includes('default-server inter "${FT_CHECK_INTER-2s}" fall 3 rise 2'), 'inter 2s fall 3 rise 2 unless overridden');
  t.ok(
    directives.some((l) => /^server \S+ .* check port /.test(l)),
    'checked on status_port',
  );
  t.notOk(
    directives.some((l) => /shutdown-sessions/.test(l)),
    'no on-marked-down shutdown-sessions',
  );
  for (const k of ['client', 'server', 'tunnel'])
    t.ok(
      directives.some((l) => new RegExp(`^timeout ${k} \\d+h$`).test(l)),
      `timeout ${k} in hours`,
    );

  // Every variable of the file is in deploy/README.md's table with the same default, and back.
  const readme = readFileSync(join(repoRoot(), 'deploy', 'README.md'), 'utf8');
  const inCfg = new Map<string, string>();
  for (const m of cfg.matchAll(/"\$\{(FT_[A-Z0-9_]+?)(?:-([^}]*))?\}"/g)) inCfg.set(m[1].replace(/\d+/, 'n'), m[2] ?? 'none');
  const inDoc = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `(FT_[A-Za-z0-9_]+)`(?:, `(FT_[A-Za-z0-9_]+)`)? \| `?([^|`]+?)`? \|/gm)) {
    for (const name of [m[1], m[2]].filter(Boolean)) inDoc.set(name, m[3].trim());
  }
  t.same([...inDoc.keys()].sort(), [...inCfg.keys()].sort(), 'the same variables');
  for (const [k, v] of inCfg) t.equal(inDoc.get(k), v, `${k}: default ${v}`);

  // The README's example is a valid configuration.
  const example = /```\n(FT_LB_BIND=[^`]*)```/.exec(readme);
  t.ok(example, 'an example environment in deploy/README.md');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const line of example![1].trim().split('\n')) {
    const [k, v] = line.split('=');
    env[k] = v;
  }
  const r = spawnSync(HAPROXY ?? 'haproxy', ['-c', '-f', CONFIG], { env, encoding: 'utf8' });
  t.equal(r.status, 0, `haproxy -c accepts it with the example ${r.stdout}${r.stderr}`.trim(), {
    skip: r.error ? `haproxy cannot run: ${r.error.message}` : false,
  });
});
