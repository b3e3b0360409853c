const HOUR_MS = 3_600_000;

/** One counted combination: calls answered in one UTC hour on one route, status and decision. */
export interface DecisionCount {
  /** Start of the UTC hour, in milliseconds since the epoch. */
  hour: number;
  route: string;
  status: number;
  decision: string;
  count: number;
}

/** The start of the UTC hour `at` falls in. */
export function utcHour(at: number): number {
  return at - (at % HOUR_MS);
}

function keyOf(hour: number, route: string, status: number, decision: string): string {
  // Route patterns and error codes never hold a newline.
  return `${hour}\n${status}\n${route}\n${decision}`;
}

function byKey(a: DecisionCount, b: DecisionCount): number {
  return (
    a.hour - b.hour ||
    (a.route < b.route ? -1 : a.route > b.route ? 1 : 0) ||
    a.status - b.status ||
    (a.decision < b.decision ? -1 : a.decision > b.decision ? 1 : 0)
  );
}

/**
 * Decision counts not yet written, at most `maxKeys` distinct combinations: past that, calls
 * of a new combination are dropped (and counted as dropped) rather than growing without end
 * while the database is away.
 */
export class DecisionCounts {
  private entries = new Map<string, DecisionCount>();
  /** Calls dropped because the bound was reached, since {@link takeDropped}. */
  private dropped = 0;

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Calls dropped because the bound was reached, since {@link takeDropped}. */
  get droppedCalls(): number {
    return this.dropped;
  }

  /** Adds `count` calls; false when they were dropped. */
  add(hour: number, route: string, status: number, decision: string, count = 1): boolean {
    const key = keyOf(hour, route, status, decision);
    const entry = this.entries.get(key);
    if (entry) {
      entry.count += count;
      return true;
    }
    if (this.entries.size >= this.maxKeys) {
      this.dropped += count;
      return false;
    }
    this.entries.set(key, { hour, route, status, decision, count });
    return true;
  }

  /**
   * Removes and answers every count, in key order (hour, route, status, decision): upserts in
   * one order lock rows in one order, so instances writing the same rows never deadlock.
   */
  take(): DecisionCount[] {
    const taken = [...this.entries.values()].sort(byKey);
    this.entries = new Map();
    return taken;
  }

  /** Adds back counts whose write failed (to what was counted meanwhile), within the bound. */
  restore(counts: DecisionCount[]): void {
    for (const c of counts) this.add(c.hour, c.route, c.status, c.decision, c.count);
  }

  /** Calls dropped since the last call, and resets that number. */
  takeDropped(): number {
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }
}
