import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { testdir } from './helpers/cli.js';
import { makePki } from './helpers/pki.js';
import { waitUntil } from './helpers/ports.js';
import { labelNames, metricNames, parseScrape, resolveName, variableMetricNames, type Scrape } from './helpers/promql.js';
import { repoRoot, startServer, type ServerProcess } from './helpers/server.js';
import { connectVehicle, vFrame } from './helpers/vehicle.js';

// deploy/grafana/fleet-telemetry.json (issue #23): every query names metrics and labels that a
// real server's /metrics exports, and the file is a dashboard Grafana can import.

const FILE = join(repoRoot(), 'deploy', 'grafana', 'fleet-telemetry.json');
const VIN = '5YJ3E1EA7KF000201';

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { type: string; name: string; query: unknown; datasource?: { uid?: string } }[] };
}

const dashboard = () => JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
/** Panels with queries, rows' nested panels included. */
const queryPanels = (d: Dashboard) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

/**
 * Series that exist only once something failed; the rest must have samples after the traffic
 * below. Each is still required to be declared (# TYPE) by the server.
 */
const ONLY_AFTER_FAILURES = new Map([['fleet_telemetry_producer_failures_total', 'a producer refused a record']]);
/** Labels Prometheus adds at scrape time (not in /metrics). */
const TARGET_LABELS = new Set(['instance', 'job']);

t.test('the PromQL reading used below finds names and labels, and misses none', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le) (rate(fleet_telemetry_ack_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'), [
    'fleet_telemetry_ack_duration_seconds_bucket',
  ]);
  t.same(metricNames('sum by (outcome) (rate(a_total{x!~"acked.*", y="by (z)"}[5m])) / ignoring(outcome) b offset 5m * 1e3'), ['a_total', 'b']);
  t.same(metricNames('max(foo) > bool 0 and on(instance) bar'), ['foo', 'bar']);
  t.same(labelNames('sum by (producer, reason) (rate(x{instance=~"$i", outcome!="a,b"}[1m]))'), ['instance', 'outcome', 'producer', 'reason']);
  t.same(variableMetricNames('label_values(fleet_telemetry_vehicles_connected, instance)'), ['fleet_telemetry_vehicles_connected']);
  t.same(variableMetricNames('label_values(instance)'), []);
  const s = parseScrape('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n# TYPE c counter\nc 2\n# TYPE q counter\n');
  t.same(resolveName(s, 'h_bucket'), { declared: true, sampled: true });
  t.match(resolveName(s, 'h'), { declared: false, why: /h is a histogram: query h_bucket, h_sum, h_count/ });
  t.match(resolveName(s, 'c_count'), { declared: false }, '_count of a counter is no series');
  t.same(resolveName(s, 'q'), { declared: true, sampled: false }, 'declared, no samples yet');
  t.match(resolveName(s, 'nope'), { declared: false, why: /not in the scrape/ });
});

t.test('the file is a dashboard: valid JSON, a Prometheus datasource variable, every panel titled and queried through it', async (t) => {
  const d = dashboard();
  t.equal(d.uid, 'fleet-telemetry');
  const ds = d.templating.list.find((v) => v.type === 'datasource');
  t.match(ds, { name: 'datasource', query: 'prometheus' }, 'a datasource variable for Prometheus');
  const panels = queryPanels(d);
  t.ok(panels.length >= 8);
  t.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, 'panel ids unique');
  for (const p of panels) {
    t.ok(typeof p.title === 'string' && p.title.trim(), `panel ${p.id} has a title`);
    t.same(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${p.title}: datasource`);
    t.ok(p.targets?.length, `${p.title}: queries`);
    t.equal(new Set(p.targets!.map((x) => x.refId)).size, p.targets!.length, `${p.title}: refIds unique`);
    for (const x of p.targets ?? []) {
      t.ok(x.expr?.trim(), `${p.title} ${x.refId}: an expression`);
      t.same(x.datasource, p.datasource, `${p.title} ${x.refId}: the same datasource`);
    }
  }
  for (const v of d.templating.list.filter((v) => v.type === 'query')) t.same(v.datasource, { type: 'prometheus', uid: '${datasource}' }, `variable ${v.name}`);
  // The layout: on Grafana's 24-column grid, no two panels on the same cells.
  const cells = new Map<string, string>();
  for (const p of d.panels) {
    const { x, y, w, h } = p.gridPos;
    t.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${p.title}: inside the grid`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        const other = cells.get(`${i},${j}`);
        if (other) t.fail(`${p.title} overlaps ${other}`);
        cells.set(`${i},${j}`, p.title ?? String(p.id));
      }
    }
  }
  // What issue #23 asks the dashboard to show.
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr ?? ''));
  const shows = (re: RegExp, what: string) =>
    t.ok(
      exprs.some((e) => re.test(e)),
      what,
    );
  shows(/rate\(fleet_telemetry_frames_received_total\{/, 'ingest: frames/s');
  shows(/rate\(fleet_telemetry_fields_published_total\{/, 'ingest: fields/s');
  shows(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(fleet_telemetry_ack_duration_seconds_bucket/, 'ack latency quantiles');
  shows(/by \(outcome\).*frames_received_total\{[^}]*outcome!~"acked\.\*"/, 'unanswered frames by outcome');
  shows(/by \(producer, reason\).*producer_failures_total/, 'producer failures by reason');
  shows(/fleet_telemetry_vehicles_connected/, 'vehicles connected');
  shows(/fleet_telemetry_broker_connected/, 'broker state');
  shows(/by \(reason\).*tls_handshake_failures_total/, 'handshake failures by reason');
  shows(/nodejs_eventloop_lag/, 'event-loop lag');
  shows(/process_resident_memory_bytes/, 'memory: RSS');
  shows(/nodejs_heap_size_used_bytes/, 'memory: heap');
});

/** Checks every query of the dashboard against one scrape. */
function checkAgainst(t: Test, scrape: Scrape): void {
  const d = dashboard();
  const queries: { where: string; expr: string; names: string[] }[] = [];
  for (const p of queryPanels(d))
    for (const x of p.targets ?? []) queries.push({ where: `${p.title} ${x.refId}`, expr: x.expr ?? '', names: metricNames(x.expr ?? '') });
  for (const v of d.templating.list.filter((v) => v.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
    queries.push({ where: `variable ${v.name}`, expr: q, names: variableMetricNames(q) });
  }
  let checked = 0;
  for (const q of queries) {
    t.ok(q.names.length, `${q.where}: names a metric`);
    for (const name of q.names) {
      const r = resolveName(scrape, name);
      t.ok(r.declared, `${q.where}: ${name} is exported${r.why ? ` (${r.why})` : ''}`);
      if (r.declared && !r.sampled) t.ok(ONLY_AFTER_FAILURES.has(name), `${q.where}: ${name} has samples after the traffic sent`);
      checked++;
    }
    // Labels: each one the query filters or groups on is carried by one of its metrics' samples.
    const sampled = q.names.filter((n) => scrape.samples.has(n));
    if (!sampled.length) continue;
    const carried = new Set(sampled.flatMap((n) => [...scrape.samples.get(n)!]));
    for (const l of labelNames(q.expr)) if (!TARGET_LABELS.has(l)) t.ok(carried.has(l), `${q.where}: label ${l} is on ${sampled.join(', ')}`);
  }
  t.ok(checked >= 20, `${checked} metric uses checked`);
}

/** Acked frames, an unreadable one and a failed handshake: the series the dashboard reads exist. */
async function traffic(t: Test, workers: number): Promise<Scrape> {
  const dir = testdir(t);
  const pki = await makePki(dir);
  const server: ServerProcess = await startServer(dir, {
    records: { V: ['mqtt'] },
    tls: { server_cert: pki.serverCert, server_key: pki.serverKey, ca_file: pki.caFile },
    mqtt: { broker: 'embedded', embedded_port: 0, qos: 1 },
    monitoring: { prometheus_metrics_port: 0 },
    workers,
  });
  t.teardown(() => server.stop());
  const port = (await server.waitForLog((l) => l.event === 'monitoring_listening')).port as number;
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 20_000, 'ready');
  const v = await connectVehicle(server.port, await pki.vehicle(VIN), pki.ca.certPem);
  for (let i = 0; i < 3; i++) v.send(vFrame(`g-${i}`, VIN, [{ key: 'VehicleSpeed', value: { float_value: 50 + i } }]));
  v.send(Buffer.from('not a frame'));
  await waitUntil(() => v.responses.length === 4, 15_000, 'every response');
  t.equal(v.responses.filter((r) => r.kind === 'ack').length, 3, 'three acks');
  await new Promise<void>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', () => {});
    s.once('error', () => resolve());
    s.once('close', () => resolve());
  });
  const text = await waitUntil(
    async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /fleet_telemetry_tls_handshake_failures_total\{reason="no_certificate"\} 1/.test(body) ? body : undefined;
    },
    15_000,
    'the failed handshake counted',
  );
  await v.close();
  return parseScrape(text);
}

t.test('every metric and label the dashboard queries, a real server exports', async (t) => {
  checkAgainst(t, await traffic(t, 1));
});

t.test("the same with workers: the primary aggregates the workers' metrics under the same names", async (t) => {
  checkAgainst(t, await traffic(t, 2));
});
