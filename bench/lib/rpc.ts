/** Request/response over a worker's or a forked child's message channel, with a deadline. */

import type { RecordableHistogram } from 'node:perf_hooks';

export interface Channel {
  on(event: 'message', fn: (m: unknown) => void): unknown;
  off(event: 'message', fn: (m: unknown) => void): unknown;
}

export interface Reply {
  type: string;
  [k: string]: unknown;
}

export function request<T extends Reply>(ch: Channel, send: (m: unknown) => void, msg: unknown, replyType: string, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      ch.off('message', on);
      reject(new Error(`no '${replyType}' reply within ${ms} ms`));
    }, ms);
    const on = (m: unknown) => {
      const r = m as Reply;
      if (r?.type === 'fatal') {
        clearTimeout(timer);
        ch.off('message', on);
        reject(new Error(String(r.message)));
      } else if (r?.type === replyType) {
        clearTimeout(timer);
        ch.off('message', on);
        resolve(r as T);
      }
    };
    ch.on('message', on);
    send(msg);
  });
}

/** What every load reports at a mark: counts since the previous mark. */
export interface MarkReply extends Reply {
  /** Frames acked (driver) or publishes acknowledged (publishers). */
  done: number;
  errors: number;
  unanswered: number;
  /** Responses to frames already given up on. */
  late: number;
  /** Fixed-rate mode: times a due frame waited for a window slot. */
  windowFull: number;
  sent: number;
  /** Ack latencies in µs (bench/lib/stats.ts). */
  latencies?: RecordableHistogram;
  /** The driver's event-loop delay in the interval, ms. */
  loop?: { p99: number; max: number };
}
