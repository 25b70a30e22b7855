import type { CountsJson, FleetProgress, FleetSummary } from './fleet.js';

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? '-' : x.toFixed(digits));

/** One progress line (stderr while running). */
export function progressLine(p: FleetProgress): string {
  const c = p.counts;
  return [
    `[${p.elapsedS.toFixed(1).padStart(6)}s]`,
    `${p.connected}/${p.vehicles} connected`,
    ...(p.connectFailures ? [`failed connects ${p.connectFailures}`] : []),
    `sent ${c.sent}`,
    `acked ${c.acked}`,
    `errored ${c.errored}`,
    `resent ${c.resent}`,
    `expired ${c.expired + c.gaveUp}`,
    `in flight ${p.inFlight}`,
    `pending ${c.pending}`,
    `${p.ackedPerS.toFixed(1)} acked/s`,
    `p50 ${num(p.p50Ms)} ms`,
    `p99 ${num(p.p99Ms)} ms`,
    ...(p.draining ? ['(draining)'] : []),
  ].join('  ');
}

const COLUMNS: [string, (c: CountsJson) => string][] = [
  ['generated', (c) => String(c.generated)],
  ['sent', (c) => String(c.sent)],
  ['acked', (c) => String(c.acked)],
  ['errored', (c) => String(c.errored)],
  ['resent', (c) => String(c.resent)],
  ['expired', (c) => String(c.expired)],
  ['gave_up', (c) => String(c.gave_up)],
  ['dropped', (c) => String(c.dropped)],
  ['pending', (c) => String(c.pending)],
  ['p50 ms', (c) => num(c.latency_ms.p50)],
  ['p99 ms', (c) => num(c.latency_ms.p99)],
];

/** The human summary (stdout at the end): a table per record type, then connections and the verdict. */
export function summaryText(s: FleetSummary): string {
  const rows: [string, CountsJson][] = [...Object.entries(s.by_record_type), ['total', s.totals]];
  const table = [['record', ...COLUMNS.map(([h]) => h)], ...rows.map(([name, c]) => [name, ...COLUMNS.map(([, f]) => f(c))])];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const lines = [
    `emulated ${s.vehicles} vehicle${s.vehicles === 1 ? '' : 's'} for ${s.duration_s.toFixed(1)} s against ${s.url}`,
    '',
    ...table.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')),
    '',
    `connections: ${s.connections.connects} opened, ${s.connections.connect_failures} failed attempts, ${s.connections.disconnects} lost` +
      (s.connections.last_connect_error ? ` (last failure: ${s.connections.last_connect_error})` : ''),
  ];
  const failed = Object.entries(s.connections.failure_reasons).sort((a, b) => b[1] - a[1]);
  if (failed.length) {
    lines.push('failed connection attempts:');
    for (const [r, n] of failed.slice(0, 10)) lines.push(`  ${n}× ${r}`);
  }
  if (s.restored) lines.push(`restored from the queue file: ${s.restored} frames`);
  if (s.late_responses) lines.push(`late responses (frame already answered): ${s.late_responses}`);
  if (s.unmatched_errors) lines.push(`error responses that name no frame: ${s.unmatched_errors}`);
  const reasons = Object.entries(s.error_reasons).sort((a, b) => b[1] - a[1]);
  if (reasons.length) {
    lines.push('error responses:');
    for (const [r, n] of reasons.slice(0, 10)) lines.push(`  ${n}× ${r}`);
  }
  const t = s.totals;
  if (s.ok) {
    lines.push(`result: OK, every frame acked (${t.acked})`);
  } else {
    const why = (
      [
        ['errored', t.errored],
        ['expired', t.expired],
        ['gave up', t.gave_up],
        ['dropped', t.dropped],
        ['pending', t.pending],
        ['unmatched errors', s.unmatched_errors],
      ] as const
    )
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    lines.push(`result: FAILED, ${t.acked} of ${t.generated} frames acked (${why})`);
  }
  return lines.join('\n');
}
