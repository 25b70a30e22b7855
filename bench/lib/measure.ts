import type { MarkReply } from './rpc.js';
import { CpuMeter, machineCpu, rssKb } from './proc.js';
import { sleep } from './net.js';
import { median, percentiles, type Percentiles } from './stats.js';

/** Something under load that reports its counts since the previous mark. */
export interface Load {
  mark(): Promise<MarkReply>;
}

export interface RunFigures {
  seconds: number;
  done: number;
  sent: number;
  errors: number;
  unanswered: number;
  late: number;
  windowFull: number;
  latency?: Percentiles;
  /** The driver's event-loop delay, ms (server phases). */
  driverLoop?: { p99: number; max: number };
  /** CPU seconds in this run, by role (server, broker, driver, publisher). */
  cpu: Record<string, number>;
  /** Busy CPU seconds of the whole machine (all cores, every process) in this run. */
  machineCpu: number;
  /** CPU seconds the hypervisor gave to other guests in this run (steal). */
  stealCpu: number;
  rssPeakKb?: number;
  rssEndKb?: number;
}

export interface MeasureOptions {
  warmupS: number;
  seconds: number;
  runs: number;
  pids: Record<string, number>;
  /** Roles whose CPU includes their children's (a server with workers). */
  trees?: string[];
  /** Whose RSS to follow (sampled every 100 ms). */
  rssPid?: number;
  onRun?: (i: number, r: RunFigures) => void;
}

/** A warm-up, then `runs` back-to-back intervals of `seconds` on a load that keeps running. */
export async function measure(load: Load, o: MeasureOptions): Promise<RunFigures[]> {
  const roles = Object.keys(o.pids);
  const meter = new CpuMeter(
    roles.map((r) => o.pids[r]),
    new Set((o.trees ?? []).map((r) => o.pids[r])),
  );
  await sleep(o.warmupS * 1000);
  await load.mark();
  meter.reset();
  let mc = machineCpu();
  const out: RunFigures[] = [];
  for (let i = 0; i < o.runs; i++) {
    let peak = 0;
    const sampler = o.rssPid ? setInterval(() => (peak = Math.max(peak, rssKb(o.rssPid!) || 0)), 100) : undefined;
    await sleep(o.seconds * 1000);
    clearInterval(sampler);
    const { wall, cpu } = meter.take();
    const mcNow = machineCpu();
    const machine = mcNow.busy - mc.busy;
    const steal = mcNow.steal - mc.steal;
    mc = mcNow;
    const m = await load.mark();
    const end = o.rssPid ? rssKb(o.rssPid) : undefined;
    const r: RunFigures = {
      seconds: wall,
      done: m.done,
      sent: m.sent,
      errors: m.errors,
      unanswered: m.unanswered,
      late: m.late,
      windowFull: m.windowFull,
      latency: m.latencies ? percentiles(m.latencies) : undefined,
      driverLoop: m.loop,
      cpu: Object.fromEntries(roles.map((role) => [role, cpu.get(o.pids[role]) ?? NaN])),
      machineCpu: machine,
      stealCpu: steal,
      rssPeakKb: end === undefined ? undefined : Math.max(peak, end),
      rssEndKb: end,
    };
    out.push(r);
    o.onRun?.(i, r);
  }
  return out;
}

export interface PhaseSummary {
  /** Medians over the runs. */
  perSecond: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  driverLoopP99Ms?: number;
  driverLoopMaxMs?: number;
  cpuUsPerUnit: number;
  cpuPercent: Record<string, number>;
  /** Whole machine busy, % of one core (200 = both cores of a 2-core machine), and the part not ours. */
  machinePercent: number;
  otherPercent: number;
  stealPercent: number;
  rssPeakMb?: number;
  rssEndMb?: number;
  /** Totals over the measured runs. */
  errors: number;
  unanswered: number;
  late: number;
  windowFull: number;
}

/** Medians of the runs; `subject` is the role whose CPU is divided by the units done. */
export function summarize(runs: RunFigures[], subject: string, unitsPerDone = 1): PhaseSummary {
  const med = (f: (r: RunFigures) => number | undefined) => median(runs.map((r) => f(r) ?? NaN));
  const roles = Object.keys(runs[0]?.cpu ?? {});
  const sum = (f: (r: RunFigures) => number) => runs.reduce((n, r) => n + f(r), 0);
  return {
    perSecond: med((r) => r.done / r.seconds),
    p50Ms: runs[0]?.latency ? med((r) => r.latency!.p50) : undefined,
    p99Ms: runs[0]?.latency ? med((r) => r.latency!.p99) : undefined,
    maxMs: runs[0]?.latency ? med((r) => r.latency!.max) : undefined,
    driverLoopP99Ms: runs[0]?.driverLoop ? med((r) => r.driverLoop!.p99) : undefined,
    driverLoopMaxMs: runs[0]?.driverLoop ? med((r) => r.driverLoop!.max) : undefined,
    cpuUsPerUnit: med((r) => (r.cpu[subject] * 1e6) / (r.done * unitsPerDone)),
    cpuPercent: Object.fromEntries(roles.map((role) => [role, med((r) => (100 * r.cpu[role]) / r.seconds)])),
    machinePercent: med((r) => (100 * r.machineCpu) / r.seconds),
    // Per-process and machine counters are sampled a moment apart: a small negative rest is noise.
    otherPercent: Math.max(
      0,
      med((r) => (100 * (r.machineCpu - roles.reduce((n, role) => n + (r.cpu[role] || 0), 0))) / r.seconds),
    ),
    stealPercent: med((r) => (100 * r.stealCpu) / r.seconds),
    rssPeakMb: runs[0]?.rssPeakKb !== undefined ? med((r) => r.rssPeakKb! / 1024) : undefined,
    rssEndMb: runs[0]?.rssEndKb !== undefined ? med((r) => r.rssEndKb! / 1024) : undefined,
    errors: sum((r) => r.errors),
    unanswered: sum((r) => r.unanswered),
    late: sum((r) => r.late),
    windowFull: sum((r) => r.windowFull),
  };
}
