import { pino, type Logger, type DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function plain(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** pino's JSON line as one readable line: time, level, message, then key=value pairs. */
function readableLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(o.time as number).toISOString();
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const rest = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${plain(v)}`)
    .join(' ');
  const msg = o.msg == null ? '' : typeof o.msg === 'string' ? o.msg : JSON.stringify(o.msg);
  return `${time} ${level} ${msg}${rest ? ' ' + rest : ''}\n`;
}

function readableStream(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => void out.write(readableLine(line)) };
}

/** Linux's PIPE_BUF: a write to a pipe up to this size is never interleaved with another process's. */
const PIPE_BUF = 4096;

/**
 * `shared`: other processes (workers) write to the same stdout, so JSON lines are written in
 * batches of whole lines no bigger than PIPE_BUF, which no other process's lines can split.
 */
export function createLogger(opts: { level: string; json: boolean; shared?: boolean }, out: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    { level: opts.level, base: undefined, timestamp: pino.stdTimeFunctions.epochTime },
    opts.json ? pino.destination({ dest: 1, sync: false, maxWrite: opts.shared ? PIPE_BUF : undefined }) : readableStream(out),
  );
}
