import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { PhaseSummary } from './measure.js';

export const int = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
export const fix = (n: number | undefined, d = 1) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(d));
/** Latencies: µs precision under 1 ms, 0.1 ms above. */
export const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n < 1 ? n.toFixed(3) : n < 100 ? n.toFixed(2) : n.toFixed(0));

export interface Column {
  title: string;
  s: PhaseSummary;
  /** Units the rate counts: frames (server) or publishes (baselines). */
  unit: 'frames' | 'publishes';
  fields: number;
  load: string;
  subject: string;
}

/** One column per phase, one row per figure. */
export function table(cols: Column[]): string {
  const rows: [string, (c: Column) => string][] = [
    ['load', (c) => c.load],
    ['frames/s acked', (c) => (c.unit === 'frames' ? int(c.s.perSecond) : '–')],
    ['fields (publishes)/s', (c) => int(c.unit === 'frames' ? c.s.perSecond * c.fields : c.s.perSecond)],
    ['ack latency p50 ms', (c) => ms(c.s.p50Ms)],
    ['ack latency p99 ms', (c) => ms(c.s.p99Ms)],
    ['ack latency max ms', (c) => ms(c.s.maxMs)],
    ['driver loop delay p99/max ms', (c) => (c.s.driverLoopP99Ms === undefined ? '–' : `${ms(c.s.driverLoopP99Ms)} / ${ms(c.s.driverLoopMaxMs)}`)],
    ['error responses', (c) => int(c.s.errors)],
    ['frames unanswered', (c) => (c.unit === 'frames' ? int(c.s.unanswered) : '–')],
    ['CPU µs per field/publish', (c) => fix(c.s.cpuUsPerUnit, 2)],
    ['measured process CPU %', (c) => `${fix(c.s.cpuPercent[c.subject], 0)} (${c.subject})`],
    ['mosquitto CPU %', (c) => fix(c.s.cpuPercent.broker, 0)],
    ['bench driver CPU %', (c) => fix(c.s.cpuPercent.driver, 0)],
    ['other processes CPU %', (c) => fix(c.s.otherPercent, 0)],
    [`machine busy % (of ${cpus().length * 100})`, (c) => fix(c.s.machinePercent, 0)],
    ['hypervisor steal %', (c) => fix(c.s.stealPercent, 0)],
    ['server RSS peak / end MB', (c) => (c.s.rssPeakMb === undefined ? '–' : `${fix(c.s.rssPeakMb, 0)} / ${fix(c.s.rssEndMb, 0)}`)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const cells = cols.map((c) => [c.title, ...rows.map((r) => r[1](c))]);
  const widths = cells.map((col) => Math.max(...col.map((x) => x.length)));
  const line = (label: string, vals: string[]) => `${label.padEnd(w0)} | ${vals.map((v, i) => v.padStart(widths[i])).join(' | ')}`;
  const out = [
    line(
      '',
      cols.map((c) => c.title),
    ),
    `${'-'.repeat(w0)}-+-${widths.map((w) => '-'.repeat(w)).join('-+-')}`,
  ];
  rows.forEach((r, i) =>
    out.push(
      line(
        r[0],
        cells.map((col) => col[i + 1]),
      ),
    ),
  );
  return out.join('\n');
}

/** `<dir>/<name>-<timestamp>.json` and `<dir>/latest.json` (or `latest-<name>.json`). */
export function saveJson(dir: string, name: string, data: unknown, latest = 'latest.json'): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const file = join(dir, `${name}-${stamp}.json`);
  const text = JSON.stringify(data, null, 2) + '\n';
  writeFileSync(file, text);
  writeFileSync(join(dir, latest), text);
  return file;
}
