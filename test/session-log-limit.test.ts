import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LogLimiter, shortenForLog } from '../src/log-limit.js';
import { SessionLog } from '../src/server/vehicle-log.js';

t.test('per connection: the first lines, then one summary per interval with the count', async (t) => {
  const l = new LogLimiter({ burst: 3, intervalMs: 60_000, renew: false });
  const got = Array.from({ length: 10 }, (_, i) => l.take('frame_unreadable', 1000 + i));
  t.same(got.slice(0, 3), [{ write: true }, { write: true }, { write: true }], 'first three written');
  t.ok(
    got.slice(3).every((d) => !d.write && !d.suppressed),
    'then left out, no summary yet',
  );
  t.same(l.take('frame_unreadable', 61_000), { write: false, suppressed: 8 }, 'a minute on: one summary counting every line left out');
  t.same(l.take('frame_unreadable', 61_001), { write: false }, 'and nothing more in that minute');
  t.same(l.take('frame_too_big', 61_002), { write: true }, 'each event has its own budget');
  t.same(l.flush(), [['frame_unreadable', 1]], 'flush: what is left to summarize');
  t.same(l.take('frame_unreadable', 61_003), { write: true }, 'flush forgets');
});

t.test('process-wide: the burst renews every interval', async (t) => {
  const l = new LogLimiter({ burst: 2, intervalMs: 1000, renew: true });
  const a = [0, 1, 2, 3].map((i) => l.take('x', i));
  t.same(a, [{ write: true }, { write: true }, { write: false }, { write: false }]);
  t.same(l.take('x', 1000), { write: true, suppressed: 2 }, 'next interval: summary, and lines again');
  t.same(l.take('x', 1001), { write: true });
  t.same(l.take('x', 1002), { write: false });
});

t.test('keys are bounded', async (t) => {
  const l = new LogLimiter({ burst: 1, intervalMs: 1000, renew: false, maxKeys: 4 });
  for (let i = 0; i < 1000; i++) l.take(`k${i}`, 0);
  t.ok(l.flush().length <= 4);
});

t.test('shortenForLog: vehicle text cut to a bounded size, with its full size', async (t) => {
  t.equal(shortenForLog('short'), 'short');
  const long = 'x'.repeat(1_000_000);
  const c = shortenForLog(long);
  t.ok(c.length < 200, `${c.length} chars`);
  t.match(c, /^x{128}…\(1000000 bytes\)$/);
  t.equal(shortenForLog('é'.repeat(200), 4), 'éééé…(400 bytes)', 'bytes, not characters');
});

function capture(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: pino({ level }, out) };
}

t.test('SessionLog: per connection and server-wide limits, summaries, close', async (t) => {
  const { lines, logger } = capture();
  let now = 0;
  const server = new LogLimiter({ burst: 5, intervalMs: 60_000, renew: true });
  const conns = Array.from({ length: 10 }, (_, i) => new SessionLog(logger, { vin: `V${i}` }, server, () => now));
  for (const c of conns) for (let i = 0; i < 100; i++) c.line('warn', { event: 'frame_unreadable' }, 'unreadable frame');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.filter((l) => l.event === 'frame_unreadable').length, 5, 'server-wide cap: 5 lines for 1,000 attempts on 10 connections');
  now = 60_000;
  conns[0].line('warn', { event: 'frame_unreadable' }, 'unreadable frame');
  await new Promise((r) => setImmediate(r));
  const server1 = lines.find((l) => l.event === 'log_suppressed' && l.scope === 'server');
  t.ok(server1, 'a server-wide summary');
  const conn0 = lines.find((l) => l.event === 'log_suppressed' && l.vin === 'V0');
  t.match(conn0, { suppressed_event: 'frame_unreadable', count: 98 }, 'the connection summary counts its own lines left out');
  conns[1].close();
  await new Promise((r) => setImmediate(r));
  t.match(lines.at(-1), { event: 'log_suppressed', vin: 'V1', suppressed_event: 'frame_unreadable', count: 97 }, 'closing: what was left out is summarized');
});

t.test('SessionLog: lines below the level cost nothing and are not counted', async (t) => {
  const { lines, logger } = capture('info');
  const s = new SessionLog(logger, {}, undefined, () => 0);
  for (let i = 0; i < 10; i++) s.line('debug', { event: 'record_unacked' }, 'x');
  s.line('warn', { event: 'record_unacked' }, 'x');
  s.close();
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 1);
});
