import { compareDecimals, sumDecimals } from '../../../src/dashboard/page/decimal-text';
import { ApiError } from '../api';
import { stackedChart } from '../chart';
import { field, h, select, statusLine } from '../dom';
import {
  bucketStarts,
  MAX_HOURLY_MS,
  periodOf,
  RANGES,
  rangeMs,
  showInstant,
  type Period,
  type RangeId,
} from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface DecisionBucket {
  start: string;
  route: string;
  status: string;
  decision: string;
  count: string;
}

interface DecisionReport {
  from: string;
  to: string;
  bucket: 'hour' | 'day';
  buckets: DecisionBucket[];
}

const STATUS_SERIES = ['401', '402', '403', '429', 'other'] as const;
/** The series of a status: its own for the four the guard refuses with, else `other`. */
function seriesIndex(status: string): number {
  const index = (STATUS_SERIES as readonly string[]).indexOf(status);
  return index < 0 ? STATUS_SERIES.length - 1 : index;
}

export const refusalsView: View = (context) => {
  const range = select(
    RANGES.map(([id, label]) => [id, label] as const),
    '7d',
  );
  const bucket = select(
    [
      ['hour', 'hour'],
      ['day', 'day'],
    ],
    'hour',
  );
  const status = statusLine();
  const chartPlace = h('div', { class: 'chart-place' });
  const tablePlace = h('div');
  let shown: { model: TableModel; fileName: string } | null = null;
  const controls = h(
    'form',
    { class: 'controls', 'aria-label': 'Refusal options' },
    field('refusals-range', 'Range', range),
    field('refusals-bucket', 'Bucket', bucket),
    csvButton(() => shown),
  );
  controls.addEventListener('submit', (event) => event.preventDefault());
  context.main.append(
    h('h1', {}, 'Refusals'),
    h('p', {}, 'Calls the guard refused, by HTTP status, from its hourly decision counts.'),
    controls,
    status,
    chartPlace,
    tablePlace,
  );

  let destroyChart: (() => void) | null = null;
  let load: AbortController | null = null;
  context.onLeave(() => destroyChart?.());

  const syncBucketOptions = () => {
    const hour = bucket.querySelector<HTMLOptionElement>('option[value="hour"]')!;
    hour.disabled = rangeMs(range.value as RangeId) > MAX_HOURLY_MS;
    if (hour.disabled && bucket.value === 'hour') bucket.value = 'day';
  };

  const show = (period: Period, bucketName: 'hour' | 'day', rows: DecisionBucket[]) => {
    const refused = rows.filter((row) => row.decision !== 'ok');
    const xs = bucketStarts(period, bucketName);
    const index = new Map(xs.map((x, i) => [x, i]));
    const values = STATUS_SERIES.map(() => xs.map(() => [] as string[]));
    for (const row of refused) {
      const at = index.get(Date.parse(row.start));
      if (at !== undefined) values[seriesIndex(row.status)][at].push(row.count);
    }
    const series = STATUS_SERIES.map((label, i) => ({
      label: label === 'other' ? 'other' : `HTTP ${label}`,
      values: values[i].map((counts) => sumDecimals(counts)),
    }));

    const byCode = new Map<string, { status: string; code: string; counts: string[] }>();
    for (const row of refused) {
      const key = `${row.status} ${row.decision}`;
      const entry = byCode.get(key) ?? { status: row.status, code: row.decision, counts: [] };
      entry.counts.push(row.count);
      byCode.set(key, entry);
    }
    const lines = [...byCode.values()]
      .map((entry) => ({ ...entry, total: sumDecimals(entry.counts) }))
      .sort((a, b) => compareDecimals(a.status, b.status) || a.code.localeCompare(b.code));
    const total = sumDecimals(lines.map((line) => line.total));
    const from = showInstant(period.from);
    const to = showInstant(period.to);

    destroyChart?.();
    chartPlace.replaceChildren();
    const label =
      `Stacked area chart of refused calls per ${bucketName} by HTTP status, ${from} to ${to}: ` +
      `${total} refused in all` +
      (lines.length ? `; the table below lists them by status and code.` : '.');
    destroyChart = stackedChart(chartPlace, { label, xs, series, valueLabel: 'calls' }).destroy;

    const model: TableModel = {
      caption: `Refused calls by status and code, ${from} to ${to} (UTC)`,
      columns: ['Status', 'Code', 'Calls'],
      rows: lines.map((line) => [line.status, line.code, line.total]),
      numeric: [0, 2],
    };
    shown = {
      model,
      fileName: `refusals-${fileStamp(period.from)}-${fileStamp(period.to)}.csv`,
    };
    tablePlace.replaceChildren(renderTable(model));
  };

  const refresh = async () => {
    load?.abort();
    load = new AbortController();
    const signal = AbortSignal.any([context.signal, load.signal]);
    const bucketName = bucket.value as 'hour' | 'day';
    const period = periodOf(range.value as RangeId, bucketName);
    status.textContent = 'Loading refusals…';
    try {
      const report = await context.api.get<DecisionReport>(
        '/api/admin/decisions',
        { from: period.from, to: period.to, bucket: bucketName },
        signal,
      );
      const refused = report.buckets.filter((row) => row.decision !== 'ok').length;
      status.textContent = refused === 0 ? 'No refused calls in this range.' : '';
      show({ from: report.from, to: report.to }, report.bucket, report.buckets);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        status.textContent = 'No decision counts: this server does not record them.';
        show(period, bucketName, []);
        return;
      }
      reportError(context, status, error);
    }
  };

  range.addEventListener('change', () => {
    syncBucketOptions();
    void refresh();
  });
  bucket.addEventListener('change', () => void refresh());
  syncBucketOptions();
  void refresh();
};
