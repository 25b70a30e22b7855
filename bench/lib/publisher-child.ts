import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BenchPublish } from './publishes.js';

/** A publisher run by bench/e2e.ts in its own process, so the OS accounts its CPU alone. */
export interface PublisherImpl {
  connect(): Promise<void>;
  /** Start publishing as fast as the window allows. */
  start(): void;
  /** Stop starting new publishes; resolves with those still unacknowledged after `ms`. */
  stop(ms: number): Promise<number>;
  close(): Promise<void>;
  counts: { done: number; errors: number; sent: number };
}

/** A `--name value` flag bench/e2e.ts gave this child. */
export function arg(name: string, fallback?: string): string {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { [name]: { type: 'string' } }, strict: false });
  const v = values[name] ?? fallback;
  if (typeof v !== 'string') throw new Error(`--${name} is required`);
  return v;
}

export function loadPublishes(): BenchPublish[] {
  return JSON.parse(readFileSync(arg('file'), 'utf8')) as BenchPublish[];
}

/** Serves the start/mark/stop protocol of bench/lib/rpc.ts over the IPC channel. */
export function servePublisher(impl: PublisherImpl): void {
  if (!process.send) throw new Error('run me from bench/e2e.ts (needs an IPC channel)');
  const send = (m: unknown) => process.send!(m);
  const last = { done: 0, errors: 0, sent: 0 };
  const delta = () => {
    const d = { done: impl.counts.done - last.done, errors: impl.counts.errors - last.errors, sent: impl.counts.sent - last.sent };
    Object.assign(last, impl.counts);
    return { ...d, unanswered: 0, late: 0, windowFull: 0 };
  };
  // Parent gone (killed, crashed): do not linger.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: { cmd: string; ms?: number }) => {
    void (async () => {
      switch (m.cmd) {
        case 'connect':
          await impl.connect();
          send({ type: 'connected' });
          return;
        case 'start':
          delta();
          impl.start();
          send({ type: 'started' });
          return;
        case 'mark':
          send({ type: 'mark', ...delta() });
          return;
        case 'stop': {
          const left = await impl.stop(m.ms ?? 5000);
          send({ type: 'stopped', ...delta(), unanswered: left, stillOutstanding: left });
          return;
        }
        case 'close':
          await impl.close();
          send({ type: 'closed' });
          process.exit(0);
      }
    })().catch((err: Error) => {
      send({ type: 'fatal', message: err.stack ?? err.message });
    });
  });
}
