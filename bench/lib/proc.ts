import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (almost always 100). */
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in seconds (all its threads), or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: fields are counted after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Processes whose parent is `pid` (a scan of /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * CPU of a process and its children alive now (a server's workers): a worker that exited during
 * the interval takes its CPU with it, so this is for steady runs.
 */
export function treeCpuSeconds(pid: number): number {
  return childPids(pid).reduce((sum, c) => sum + (cpuSeconds(c) || 0), cpuSeconds(pid));
}

function statusKb(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size now, in kB. */
export const rssKb = (pid: number): number => statusKb(pid, 'VmRSS');
/** Peak resident set size over the process's life (VmHWM), in kB. */
export const peakRssKb = (pid: number): number => statusKb(pid, 'VmHWM');

/** Soft and hard RLIMIT_NOFILE of this process (children inherit them). */
export function fdLimits(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * CPU seconds of the whole machine, all cores, from /proc/stat: busy (user, nice, system, irq,
 * softirq) and steal (time the hypervisor gave to someone else).
 */
export function machineCpu(): { busy: number; steal: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return { busy: (f[0] + f[1] + f[2] + f[5] + f[6]) / CLK_TCK, steal: (f[7] || 0) / CLK_TCK };
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

export const machineBusySeconds = (): number => machineCpu().busy;

/** CPU of several processes between two instants, as a fraction of one core. */
export class CpuMeter {
  private last = new Map<number, number>();
  private at = 0;
  constructor(
    private readonly pids: number[],
    /** Pids counted with their children (the server with its workers). */
    private readonly trees: Set<number> = new Set(),
  ) {
    this.reset();
  }
  private read(p: number): number {
    return this.trees.has(p) ? treeCpuSeconds(p) : cpuSeconds(p);
  }
  reset(): void {
    this.at = performance.now();
    for (const p of this.pids) this.last.set(p, this.read(p));
  }
  /** Seconds of CPU per pid since the last call, and the wall seconds it spans. */
  take(): { wall: number; cpu: Map<number, number> } {
    const now = performance.now();
    const cpu = new Map<number, number>();
    for (const p of this.pids) {
      const c = this.read(p);
      cpu.set(p, c - (this.last.get(p) ?? c));
      this.last.set(p, c);
    }
    const wall = (now - this.at) / 1000;
    this.at = now;
    return { wall, cpu };
  }
}
