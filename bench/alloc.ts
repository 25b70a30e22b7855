/**
 * Bytes of JS heap allocated per frame by each step of the hot path (readFrame → decodeRecord →
 * planPublishes → writeAck), on bench/decode-plan.ts's 20-field frame: what feeds the young
 * generation's scavenges. Run with a young generation large enough that no GC falls inside a
 * measured loop (`make bench-alloc` does):
 *   node --expose-gc --max-semi-space-size=256 --min-semi-space-size=256 build/bench/alloc.js
 * A count is heapUsed after N calls minus before, ÷ N; a scavenge inside the loop would show as a
 * negative or absurd figure, so each step is measured 3 times and the median is printed.
 */
import { readFrame, writeAck } from '../src/envelope/index.js';
import { decodeRecord } from '../src/record/decode.js';
import { planPublishes } from '../src/publish/plan.js';
import { benchFrame, FIELDS, planOptions, VIN } from './lib/frame20.js';

const N = 2000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc (and --max-semi-space-size=256 --min-semi-space-size=256)');
  process.exit(2);
}

function perCall(fn: () => unknown): number {
  const out: number[] = [];
  const keep: unknown[] = new Array(1);
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < 200; i++) keep[0] = fn(); // warm: optimised code, not the interpreter's
    gc!();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) keep[0] = fn();
    out.push((process.memoryUsage().heapUsed - before) / N);
  }
  return out.sort((a, b) => a - b)[1];
}

const frame = benchFrame();
const f = readFrame(frame);
if (!f.stream) throw new Error('bench frame has no stream');
const record = decodeRecord(f.recordType, f.stream.payload, VIN, f.txid);

const steps: Array<[string, () => unknown]> = [
  ['readFrame', () => readFrame(frame)],
  ['decodeRecord', () => decodeRecord(f.recordType, f.stream!.payload, VIN, f.txid)],
  ['planPublishes', () => planPublishes(record, planOptions)],
  ['writeAck', () => writeAck(f.txidBytes, f.recordType)],
];
let total = 0;
for (const [name, fn] of steps) {
  const b = perCall(fn);
  total += b;
  console.log(`${name.padEnd(14)} ${Math.round(b).toString().padStart(7)} bytes per frame  ${(b / FIELDS).toFixed(0).padStart(5)} per field`);
}
console.log(`${'total'.padEnd(14)} ${Math.round(total).toString().padStart(7)} bytes per frame  ${(total / FIELDS).toFixed(0).padStart(5)} per field`);
