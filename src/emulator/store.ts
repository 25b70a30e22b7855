import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';

/** A frame waiting for its response, as kept across emulator restarts. */
export interface StoredFrame {
  txid: string;
  recordType: string;
  /** Wall-clock ms when the frame was made: its time-to-live counts from here. */
  createdAt: number;
  bytes: Uint8Array;
}

/** Where unacked frames live so that a restart of the emulator loses none. */
export interface FrameStore {
  /** Frames of this VIN left by an earlier run; each is handed out once. */
  take(vin: string): StoredFrame[];
  add(vin: string, frame: StoredFrame): void;
  /** The frame reached a final outcome (acked, errored, expired, dropped). */
  remove(txid: string): void;
  /** Frames still kept (any VIN). */
  size(): number;
  close(): void;
}

interface Entry {
  vin: string;
  line: string;
  taken: boolean;
}

/**
 * An append-only journal: `A` lines add a frame, `D` lines remove one. Each line is written
 * synchronously before the frame goes out, so a crash of the emulator process loses nothing; a
 * torn last line is skipped on the next start. Rewritten (temp file + rename) at open, at close
 * and when removed lines outnumber live ones, so the file stays about as big as the backlog.
 */
export class FileFrameStore implements FrameStore {
  private readonly live = new Map<string, Entry>();
  private fd: number;
  private garbage = 0;
  private readonly lock: string;

  private constructor(private readonly file: string) {
    this.lock = `${file}.lock`;
    this.acquireLock();
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.releaseLock();
        throw err;
      }
    }
    for (const line of text.split('\n')) {
      const p = line.split('\t');
      if (p[0] === 'A' && p.length === 6 && p[5].length > 0) this.live.set(p[2], { vin: p[1], line, taken: false });
      else if (p[0] === 'D' && p.length === 2) this.live.delete(p[1]);
    }
    this.fd = this.rewrite();
  }

  static open(file: string): FileFrameStore {
    return new FileFrameStore(file);
  }

  /** One emulator per file: two would each resend and delete the other's frames. */
  private acquireLock(): void {
    for (let i = 0; i < 2; i++) {
      try {
        writeFileSync(this.lock, String(process.pid), { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(this.lock, 'utf8'));
        if (pid && alive(pid)) throw new Error(`${this.file} is in use by process ${pid}`, { cause: err });
        unlinkSync(this.lock); // left by a process that is gone
      }
    }
    throw new Error(`cannot lock ${this.file}`);
  }

  private releaseLock(): void {
    try {
      unlinkSync(this.lock);
    } catch {
      // already gone
    }
  }

  private rewrite(): number {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, [...this.live.values()].map((e) => `${e.line}\n`).join(''));
    renameSync(tmp, this.file);
    this.garbage = 0;
    return openSync(this.file, 'a');
  }

  take(vin: string): StoredFrame[] {
    const out: StoredFrame[] = [];
    for (const [txid, e] of this.live) {
      if (e.vin !== vin || e.taken) continue;
      e.taken = true;
      const p = e.line.split('\t');
      out.push({ txid, recordType: decodeURIComponent(p[3]), createdAt: Number(p[4]), bytes: Buffer.from(p[5], 'base64') });
    }
    return out;
  }

  add(vin: string, f: StoredFrame): void {
    if (this.fd < 0) throw new Error(`${this.file} is closed`);
    const line = ['A', vin, f.txid, encodeURIComponent(f.recordType), String(f.createdAt), Buffer.from(f.bytes).toString('base64')].join('\t');
    writeSync(this.fd, `${line}\n`);
    this.live.set(f.txid, { vin, line, taken: true });
  }

  remove(txid: string): void {
    if (!this.live.delete(txid) || this.fd < 0) return;
    writeSync(this.fd, `D\t${txid}\n`);
    if (++this.garbage > 10_000 && this.garbage > 2 * this.live.size) {
      closeSync(this.fd);
      this.fd = this.rewrite();
    }
  }

  size(): number {
    return this.live.size;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    const fd = this.rewrite();
    closeSync(fd);
    this.fd = -1;
    this.releaseLock();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
