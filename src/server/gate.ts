import type { VehicleSession } from './session.js';

/**
 * Server-wide bound on records in flight. At the bound, sessions stop reading from their
 * vehicles (TCP pushes back on the cars) instead of buffering frames without limit; below it
 * again, the paused sessions are woken.
 */
export class InflightGate {
  count = 0;
  private readonly waiting = new Set<VehicleSession>();

  constructor(readonly max: number) {}

  canAdmit = (): boolean => this.count < this.max;

  park(s: VehicleSession): void {
    this.waiting.add(s);
  }

  forget(s: VehicleSession): void {
    this.waiting.delete(s);
  }

  started(): void {
    this.count++;
  }

  finished(): void {
    this.count--;
    // Wake with some headroom so a full gate does not flap once per record.
    if (this.waiting.size && this.count <= this.max * 0.9) {
      const sessions = [...this.waiting];
      this.waiting.clear();
      for (const s of sessions) s.wake();
    }
  }
}
