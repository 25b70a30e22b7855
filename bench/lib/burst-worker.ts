/**
 * The bursting vehicle of bench/burst.ts, in a worker thread so its sending does not delay the
 * paced vehicles' clocks: N V frames, as many in flight as its socket drains (capped by a window),
 * each resent with the same txid when it has had no response after `resendMs`, as a car does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { FrameTemplate, readResponse, RESPONSE_ACK, RESPONSE_ERROR } from './frames.js';

export interface BurstData {
  port: number;
  caPem: string;
  vin: string;
  index: number;
  certPem: string;
  keyPem: string;
  frames: number;
  fields: number;
  window: number;
  resendMs: number;
}

export interface BurstResult {
  type: 'done';
  sent: number;
  resent: number;
  acked: number;
  errors: number;
  unackedAtEnd: number;
  firstAckMs: number;
  elapsedMs: number;
  closeCode?: number;
}

const d = workerData as BurstData;
const post = (m: unknown) => parentPort!.postMessage(m);
const UNSENT = 0;
const OUT = 1;
const ACKED = 2;
const ERRORED = 3;
const state = new Uint8Array(d.frames).fill(UNSENT);
const sentAt = new Float64Array(d.frames);
const tpl = new FrameTemplate(d.vin, d.index, d.fields);
const c = { sent: 0, resent: 0, acked: 0, errors: 0, outstanding: 0 };
let next = 0;
let low = 0;
let running = false;
let started = 0;
let firstAck = -1;
let closeCode: number | undefined;
const resp = { kind: 0, seq: -1 };

const ws = new WebSocket(`wss://127.0.0.1:${d.port}/`, { cert: d.certPem, key: d.keyPem, ca: d.caPem, perMessageDeflate: false });
ws.on('error', (err) => post({ type: 'log', message: `burst vehicle: ${err.message}` }));
ws.on('close', (code) => {
  closeCode = code;
  if (running) post({ type: 'log', message: `burst vehicle: connection closed (${code})` });
});
ws.once('open', () => post({ type: 'connected' }));
ws.on('message', (buf: Buffer) => {
  readResponse(buf, resp);
  const s = resp.seq;
  if (s < 0 || s >= d.frames || state[s] !== OUT) return;
  c.outstanding--;
  if (resp.kind === RESPONSE_ACK) {
    state[s] = ACKED;
    c.acked++;
    if (firstAck < 0) firstAck = performance.now() - started;
  } else if (resp.kind === RESPONSE_ERROR) {
    state[s] = ERRORED; // a car gives an errored frame up
    c.errors++;
  }
  pump();
});

function send(seq: number): void {
  sentAt[seq] = performance.now();
  ws.send(tpl.frame(seq), { binary: true });
}

/** New frames while the socket drains and the window has room. */
function pump(): void {
  if (!running || ws.readyState !== WebSocket.OPEN) return;
  while (next < d.frames && c.outstanding < d.window && ws.bufferedAmount < 1 << 20) {
    state[next] = OUT;
    c.outstanding++;
    c.sent++;
    send(next++);
  }
}

/** Resend what has waited `resendMs` with no response (at most a window's worth per sweep). */
function sweep(): void {
  if (!running || ws.readyState !== WebSocket.OPEN) return;
  const now = performance.now();
  while (low < next && state[low] !== OUT) low++;
  let n = 0;
  for (let s = low; s < next && n < d.window && ws.bufferedAmount < 1 << 20; s++) {
    if (state[s] === OUT && now - sentAt[s] >= d.resendMs) {
      send(s);
      c.resent++;
      n++;
    }
  }
  pump();
}

const sweeper = setInterval(sweep, 100);
const progress = setInterval(() => {
  if (running) post({ type: 'progress', acked: c.acked, sent: c.sent, resent: c.resent, errors: c.errors, outstanding: c.outstanding });
}, 1000);

function finish(): void {
  running = false;
  clearInterval(sweeper);
  clearInterval(progress);
  const r: BurstResult = {
    type: 'done',
    sent: c.sent,
    resent: c.resent,
    acked: c.acked,
    errors: c.errors,
    unackedAtEnd: d.frames - c.acked - c.errors,
    firstAckMs: firstAck,
    elapsedMs: performance.now() - started,
    closeCode,
  };
  post(r);
}

parentPort!.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'start') {
    running = true;
    started = performance.now();
    pump();
    const check = setInterval(() => {
      if (c.acked + c.errors >= d.frames || ws.readyState !== WebSocket.OPEN) {
        clearInterval(check);
        finish();
      }
    }, 20);
  } else if (m.cmd === 'stop') {
    if (running) finish();
  } else if (m.cmd === 'close') {
    clearInterval(sweeper);
    clearInterval(progress);
    ws.terminate();
    post({ type: 'closed' });
  }
});
