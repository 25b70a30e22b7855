/**
 * Why vehicles cannot connect, said while they retry: one line the first time a reason is seen
 * (with how many vehicles met it so far), afterwards only counts, so a fleet retrying for a minute
 * does not print a line per attempt. Bookkeeping only; the fleet decides when lines are written.
 */
export class ConnectFailureReport {
  private readonly reasons = new Map<string, { vins: Set<string>; attempts: number; said: boolean }>();
  private total = 0;

  /** Reasons carry hosts and ports; past `maxReasons` distinct ones, new ones are only counted. */
  constructor(private readonly maxReasons = 20) {}

  /** Records a failed attempt; true when its reason has not been said yet. */
  note(vin: string, reason: string): boolean {
    this.total++;
    let r = this.reasons.get(reason);
    if (!r) {
      if (this.reasons.size >= this.maxReasons) return false;
      this.reasons.set(reason, (r = { vins: new Set(), attempts: 0, said: false }));
    }
    r.vins.add(vin);
    r.attempts++;
    return !r.said;
  }

  /** Failed attempts of every reason. */
  get attempts(): number {
    return this.total;
  }

  /** A line for each reason not said yet, which then counts as said. */
  takeNew(vehicles: number): string[] {
    const lines: string[] = [];
    for (const [reason, r] of this.reasons) {
      if (r.said) continue;
      r.said = true;
      const who = vehicles === 1 ? 'the vehicle' : `${r.vins.size} of ${vehicles} vehicles`;
      lines.push(`cannot connect (${who}): ${reason}; retrying, further failures are counted as "failed connects" in the progress lines`);
    }
    return lines;
  }
}
