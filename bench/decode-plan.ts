import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFrame, writeAck } from '../src/envelope/index.js';
import { decodeRecord } from '../src/record/decode.js';
import { planPublishes } from '../src/publish/plan.js';
import { flagsOrExit, type FlagSpec } from './lib/args.js';
import { data, frame, payload, planOptions, VIN } from './lib/frame20.js';

// Micro-benchmark of the per-frame hot path without the network: readFrame → decodeRecord →
// planPublishes → writeAck on one 20-field V frame. Usage:
//   node build/bench/decode-plan.js [--iterations N] [--runs R] [--warmup W] [--json]

const SPEC = {
  iterations: { type: 'number', default: 50_000, min: 1, int: true, help: 'frames per timed run' },
  runs: { type: 'number', default: 5, min: 1, int: true, help: 'timed runs' },
  warmup: { type: 'number', default: 20_000, min: 0, int: true, help: 'frames before the first run' },
  json: { type: 'bool', default: false, help: 'one JSON line, for scripts' },
  help: { type: 'bool', default: false, help: 'this text' },
} satisfies Record<string, FlagSpec>;
const flags = flagsOrExit(process.argv.slice(2), SPEC, 'usage: node build/bench/decode-plan.js [flags]   (make bench-micro)');
const ITERATIONS = flags.iterations!;
const RUNS = flags.runs!;
const WARMUP = flags.warmup!;
const JSON_OUT = flags.json;

const options = planOptions;

let sink = 0; // keeps the work observable so nothing is optimised away

function handle(buf: Uint8Array): number {
  const f = readFrame(buf);
  if (!f.stream) throw new Error('bench frame has no stream');
  const record = decodeRecord(f.recordType, f.stream.payload, VIN, f.txid);
  const publishes = planPublishes(record, options);
  const ack = writeAck(f.txidBytes, f.recordType);
  return publishes.length + ack.length;
}

const check = planPublishes(decodeRecord('V', payload, VIN, ''), options);
if (check.length !== data.length) throw new Error(`expected ${data.length} publishes, got ${check.length}`);

function run(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += handle(frame);
  return performance.now() - t0;
}

run(WARMUP);
const times: number[] = [];
for (let r = 0; r < RUNS; r++) times.push(run(ITERATIONS));
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const framesPerSec = (ITERATIONS / median) * 1000;
const usPerFrame = (median * 1000) / ITERATIONS;
const usPerField = usPerFrame / data.length;

const result = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  frameBytes: frame.length,
  fields: data.length,
  iterations: ITERATIONS,
  runs: RUNS,
  runMs: times.map((t) => Number(t.toFixed(1))),
  framesPerSec: Math.round(framesPerSec),
  usPerFrame: Number(usPerFrame.toFixed(2)),
  usPerField: Number(usPerField.toFixed(3)),
};

if (JSON_OUT) {
  console.log(JSON.stringify(result));
} else {
  console.log(`decode-plan: ${data.length}-field V frame (${frame.length} bytes), readFrame + decodeRecord + planPublishes + writeAck`);
  console.log(`node ${result.node}, ${result.cores} cores, ${result.cpu}`);
  console.log(`${RUNS} runs × ${ITERATIONS} frames after ${WARMUP} warm-up: ${result.runMs.join(', ')} ms`);
  console.log(`median: ${result.framesPerSec.toLocaleString('en-US')} frames/s, ${result.usPerFrame} µs/frame, ${result.usPerField} µs/field`);
}
if (sink === 0) console.log('');
