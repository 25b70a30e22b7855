import type { FleetUpdate, FleetChanges, FleetSource, FleetTotals, StoredDetail, StoredRow, VehicleDetail } from './types.js';
import { KEY_UNITS } from './units.js';
import { detailBody, healthOf, mergeRows, publicRow, RateWindow, sumTotals } from './view.js';

/** Asks every worker (worker k with `arg(k)`); a worker that is down or slow gives undefined. */
export type AskWorkers = <T>(what: 'fleet' | 'vehicle', arg: (k: number) => unknown) => Promise<{ k: number; value: T | undefined }[]>;

interface Merged {
  byWorker: Map<number, StoredRow>;
  row: StoredRow;
  changed: number;
}

/** Refreshes closer together than this reuse the last answers (several readers at once). */
const FRESH_MS = 250;

/**
 * The primary's fleet view over its workers: each worker answers only the rows changed since the
 * cursor it gave last time; rows are merged by VIN (a vehicle may have moved to another worker:
 * the newest row wins). Bounded like a store: past max_vehicles the disconnected VIN heard from
 * longest ago goes first.
 */
export class MergedFleet implements FleetSource {
  private readonly byVin = new Map<string, Merged>();
  private readonly cursors = new Map<number, { epoch: string; cursor: number }>();
  private readonly totals = new Map<number, FleetTotals>();
  private readonly rate = new RateWindow();
  private seq = 0;
  private refreshing?: Promise<void>;
  private refreshedAt = 0;

  constructor(
    private readonly ask: AskWorkers,
    private readonly ready: () => Promise<{ ready: boolean }>,
    private readonly workers: number,
    private readonly maxVehicles: number,
  ) {}

  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.refreshedAt < FRESH_MS) return Promise.resolve();
    this.refreshing = (async () => {
      // Each worker is asked from its own cursor, so it sends only the rows changed since.
      const got = await this.ask<FleetChanges>('fleet', (k) => this.cursors.get(k)?.cursor ?? 0);
      for (const { k, value } of got) if (value) this.apply(k, value);
      this.refreshedAt = Date.now();
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** One worker's changed rows. A new epoch (the worker restarted) ends its earlier connections. */
  apply(k: number, c: FleetChanges, now = Date.now()): void {
    const prev = this.cursors.get(k);
    const restarted = prev !== undefined && prev.epoch !== c.epoch;
    if (restarted) this.workerGone(k, now);
    // A restarted worker was asked from its predecessor's cursor: next time, from the start.
    this.cursors.set(k, { epoch: c.epoch, cursor: restarted ? 0 : c.cursor });
    this.totals.set(k, c.totals);
    for (const row of c.rows) {
      let m = this.byVin.get(row.vin);
      if (!m) this.byVin.set(row.vin, (m = { byWorker: new Map(), row, changed: 0 }));
      m.byWorker.set(k, row);
      this.remerge(m);
    }
    this.bound();
  }

  private workerGone(k: number, now: number): void {
    for (const m of this.byVin.values()) {
      const r = m.byWorker.get(k);
      if (!r || !r.connected) continue;
      m.byWorker.set(k, { ...r, connected: false, since: now, heard: now });
      this.remerge(m);
    }
  }

  private remerge(m: Merged): void {
    m.row = mergeRows([...m.byWorker.values()]);
    m.changed = ++this.seq;
  }

  private bound(): void {
    while (this.byVin.size > this.maxVehicles) {
      let oldest: Merged | undefined;
      for (const m of this.byVin.values()) if (!m.row.connected && (!oldest || m.row.heard < oldest.row.heard)) oldest = m;
      if (!oldest) return;
      this.byVin.delete(oldest.row.vin);
    }
  }

  async changes(since: number): Promise<{ body: FleetUpdate; cursor: number }> {
    await this.refresh();
    const ready = await this.ready().then(
      (r) => r.ready,
      () => false,
    );
    const rows: StoredRow[] = [];
    let connected = 0;
    for (const m of this.byVin.values()) {
      if (m.row.connected) connected++;
      if (m.changed > since) rows.push(m.row);
    }
    rows.sort((a, b) => (a.vin < b.vin ? -1 : a.vin > b.vin ? 1 : 0));
    const now = Date.now();
    const health = healthOf(sumTotals([...this.totals.values()]), { connected, known: this.byVin.size }, ready, this.workers, this.rate, now);
    return { body: { at: now, health, units: KEY_UNITS, vehicles: rows.map(publicRow) }, cursor: this.seq };
  }

  /** Every worker's detail of the VIN, merged: the newest row, each field, alert and error at its latest. */
  async vehicle(vin: string): Promise<VehicleDetail | undefined> {
    const got = await this.ask<StoredDetail | undefined>('vehicle', () => vin);
    const details = got.flatMap((g) => (g.value ? [g.value] : []));
    if (!details.length) return undefined;
    const fields = new Map<string, StoredDetail['fields'][number]>();
    const alerts = new Map<string, StoredDetail['alerts'][number]>();
    const errors = new Map<string, StoredDetail['errors'][number]>();
    // Oldest first, so the newest worker's alerts win.
    for (const d of [...details].sort((a, b) => a.row.heard - b.row.heard)) {
      for (const f of d.fields) if ((fields.get(f.name)?.at ?? -Infinity) <= f.at) fields.set(f.name, f);
      for (const a of d.alerts) alerts.set(a.name, a);
      for (const e of d.errors) if ((errors.get(e.name)?.at ?? -Infinity) <= e.at) errors.set(e.name, e);
    }
    const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return detailBody({
      row: mergeRows(details.map((d) => d.row)),
      fields: [...fields.values()].sort(byName),
      alerts: [...alerts.values()],
      errors: [...errors.values()],
      fields_dropped: Math.max(...details.map((d) => d.fields_dropped)),
    });
  }
}
