const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type Bucket = 'hour' | 'day' | 'month';

export const RANGES = [
  ['24h', '24 hours', DAY_MS],
  ['7d', '7 days', 7 * DAY_MS],
  ['30d', '30 days', 30 * DAY_MS],
  ['90d', '90 days', 90 * DAY_MS],
] as const;
export type RangeId = (typeof RANGES)[number][0];

/** The API's bound on hour buckets. */
export const MAX_HOURLY_MS = 31 * DAY_MS;

export function rangeMs(range: RangeId): number {
  return RANGES.find(([id]) => id === range)![2];
}

/** The start of the bucket holding `time`, in UTC. */
export function bucketStart(time: number, bucket: Bucket): number {
  const date = new Date(time);
  if (bucket === 'hour') return Math.floor(time / HOUR_MS) * HOUR_MS;
  if (bucket === 'day') return Math.floor(time / DAY_MS) * DAY_MS;
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

export function nextBucket(start: number, bucket: Bucket): number {
  if (bucket === 'hour') return start + HOUR_MS;
  if (bucket === 'day') return start + DAY_MS;
  const date = new Date(start);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/**
 * The period a range covers, in whole buckets: it ends with the bucket holding now (so the
 * current hour or day is shown) and starts `range` before that end (hour and day buckets), or
 * with the month holding that start (month buckets).
 */
export function periodOf(range: RangeId, bucket: Bucket, now = Date.now()): Period {
  const small = bucket === 'month' ? 'day' : bucket;
  const to = nextBucket(bucketStart(now, small), small);
  const from = bucketStart(to - rangeMs(range), bucket);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

export interface Period {
  from: string;
  to: string;
}

/** This calendar month in UTC. */
export function thisMonth(now = Date.now()): Period {
  const start = bucketStart(now, 'month');
  return {
    from: new Date(start).toISOString(),
    to: new Date(nextBucket(start, 'month')).toISOString(),
  };
}

/** Every bucket start of the period, as epoch milliseconds. */
export function bucketStarts(period: Period, bucket: Bucket): number[] {
  const starts: number[] = [];
  const end = Date.parse(period.to);
  for (let start = bucketStart(Date.parse(period.from), bucket); start < end;) {
    starts.push(start);
    start = nextBucket(start, bucket);
  }
  return starts;
}

/** An API instant as it is shown: ISO 8601 in UTC, to the second. */
export function showInstant(instant: string | null | undefined): string {
  if (!instant) return '';
  const time = Date.parse(instant);
  return Number.isNaN(time) ? instant : new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
