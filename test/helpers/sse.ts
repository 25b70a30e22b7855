import { request, type IncomingMessage } from 'node:http';
import { waitUntil } from './ports.js';

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  res: IncomingMessage;
  /** Every event and comment line received, in order; comments as `{event: ':', data}`. */
  events: SseEvent[];
  retry?: number;
  ended: Promise<void>;
  /** The first event after index `from` matching `pred`. */
  next(pred: (e: SseEvent) => boolean, from?: number, ms?: number): Promise<SseEvent & { index: number }>;
  close(): void;
}

/** A Server-Sent Events client on a real HTTP request, parsing the stream as a browser does. */
export function openSse(port: number, path: string): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream' } }, (res) => {
      const events: SseEvent[] = [];
      const s: SseStream = {
        status: res.statusCode ?? 0,
        res,
        events,
        ended: new Promise((r) => {
          res.once('end', () => r());
          res.once('close', () => r());
        }),
        next: (pred, from = 0, ms = 10_000) =>
          waitUntil(
            () => {
              for (let i = from; i < events.length; i++) if (pred(events[i])) return { ...events[i], index: i };
              return undefined;
            },
            ms,
            'event',
          ),
        close: () => req.destroy(),
      };
      let buf = '';
      let event = 'message';
      let data: string[] = [];
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line === '') {
            if (data.length) events.push({ event, data: data.join('\n') });
            event = 'message';
            data = [];
          } else if (line.startsWith(':')) events.push({ event: ':', data: line.slice(1).trim() });
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
          else if (line.startsWith('retry: ')) s.retry = Number(line.slice(7));
        }
      });
      res.on('error', () => {});
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}
