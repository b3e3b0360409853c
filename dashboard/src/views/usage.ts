import { compareDecimals, sumDecimals } from '../../../src/dashboard/page/decimal-text';
import { stackedChart, type StackedSeries } from '../chart';
import { field, h, select, statusLine } from '../dom';
import {
  bucketStarts,
  MAX_HOURLY_MS,
  periodOf,
  RANGES,
  rangeMs,
  showInstant,
  type Bucket,
  type Period,
  type RangeId,
} from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

type Stack = 'model' | 'organization' | 'api_key';
type Measure = 'cost' | 'tokens';

interface UsageBucket {
  start: string;
  model?: string;
  api_key_id?: string;
  organization_id?: string | null;
  requests: string;
  input_tokens: string;
  output_tokens: string;
  cost: string;
}

interface UsageReport {
  period: Period;
  bucket: Bucket;
  buckets: UsageBucket[];
}

const STACKS: Record<Stack, { label: string; column: string; key: (b: UsageBucket) => string }> = {
  model: { label: 'model', column: 'Model', key: (b) => b.model ?? '' },
  organization: {
    label: 'organization',
    column: 'Organization',
    key: (b) => b.organization_id ?? '(no organization)',
  },
  api_key: { label: 'API key', column: 'API key', key: (b) => b.api_key_id ?? '' },
};

/** Series drawn one by one; the rest are drawn together. */
const MAX_SERIES = 8;

const tokensOf = (bucket: UsageBucket) => sumDecimals([bucket.input_tokens, bucket.output_tokens]);

export const usageView: View = (context) => {
  const { main } = context;
  const range = select(
    RANGES.map(([id, label]) => [id, label] as const),
    '30d',
  );
  const bucket = select(
    [
      ['hour', 'hour'],
      ['day', 'day'],
      ['month', 'month'],
    ],
    'day',
  );
  const stack = select(
    [
      ['model', 'model'],
      ['organization', 'organization'],
      ['api_key', 'api_key'],
    ],
    'model',
  );
  const measure = select(
    [
      ['cost', 'cost'],
      ['tokens', 'tokens'],
    ],
    'cost',
  );
  const status = statusLine();
  const total = h('p', { 'data-testid': 'usage-total', class: 'total' });
  const chartPlace = h('div', { class: 'chart-place' });
  const tablePlace = h('div');
  let shown: { model: TableModel; fileName: string } | null = null;
  const controls = h(
    'form',
    { class: 'controls', 'aria-label': 'Usage options' },
    field('usage-range', 'Range', range),
    field('usage-bucket', 'Bucket', bucket),
    field('usage-stack', 'Stack by', stack),
    field('usage-measure', 'Measure', measure),
    csvButton(() => shown),
  );
  controls.addEventListener('submit', (event) => event.preventDefault());
  main.append(h('h1', {}, 'Usage'), controls, status, total, chartPlace, tablePlace);

  let destroyChart: (() => void) | null = null;
  let report: UsageReport | null = null;
  let load: AbortController | null = null;
  let firstDrawn = false;
  context.onLeave(() => destroyChart?.());

  const hourAllowed = () => rangeMs(range.value as RangeId) <= MAX_HOURLY_MS;
  const syncBucketOptions = () => {
    const hour = bucket.querySelector<HTMLOptionElement>('option[value="hour"]')!;
    hour.disabled = !hourAllowed();
    if (hour.disabled && bucket.value === 'hour') bucket.value = 'day';
  };

  const draw = () => {
    if (!report) return;
    destroyChart?.();
    chartPlace.replaceChildren();
    const drawing = drawReport(
      chartPlace,
      report,
      stack.value as Stack,
      measure.value as Measure,
      () => {
        if (firstDrawn) return;
        firstDrawn = true;
        performance.mark('usage-drawn');
        document.body.dataset.ready = 'usage';
      },
    );
    destroyChart = drawing.destroy;
    shown = drawing.shown;
    tablePlace.replaceChildren(renderTable(drawing.shown.model));
    total.textContent = drawing.summary;
  };

  const refresh = async () => {
    load?.abort();
    load = new AbortController();
    const signal = AbortSignal.any([context.signal, load.signal]);
    const period = periodOf(range.value as RangeId, bucket.value as Bucket);
    status.textContent = 'Loading usage…';
    try {
      report = await context.api.get<UsageReport>(
        '/api/admin/usage',
        { from: period.from, to: period.to, bucket: bucket.value, group_by: stack.value },
        signal,
      );
      status.textContent = report.buckets.length === 0 ? 'No usage in this range.' : '';
      draw();
    } catch (error) {
      reportError(context, status, error);
    }
  };

  range.addEventListener('change', () => {
    syncBucketOptions();
    void refresh();
  });
  bucket.addEventListener('change', () => void refresh());
  stack.addEventListener('change', () => void refresh());
  measure.addEventListener('change', draw);
  syncBucketOptions();
  void refresh();
};

function drawReport(
  place: HTMLElement,
  report: UsageReport,
  stack: Stack,
  measure: Measure,
  onDrawn: () => void,
): { destroy: () => void; shown: { model: TableModel; fileName: string }; summary: string } {
  const by = STACKS[stack];
  const xs = bucketStarts(report.period, report.bucket);
  const index = new Map(xs.map((x, i) => [x, i]));
  const valueOf = measure === 'cost' ? (b: UsageBucket) => b.cost : tokensOf;

  // Per group: its values per bucket, and its total to rank it.
  const groups = new Map<string, string[][]>();
  for (const row of report.buckets) {
    const key = by.key(row);
    let perBucket = groups.get(key);
    if (!perBucket) groups.set(key, (perBucket = xs.map(() => [])));
    const at = index.get(Date.parse(row.start));
    if (at !== undefined) perBucket[at].push(valueOf(row));
  }
  const ranked = [...groups.entries()]
    .map(([label, perBucket]) => ({
      label,
      values: perBucket.map((values) => sumDecimals(values)),
    }))
    .map((one) => ({ ...one, total: sumDecimals(one.values) }))
    .sort((a, b) => compareDecimals(b.total, a.total) || a.label.localeCompare(b.label));
  const series: StackedSeries[] = ranked.slice(0, MAX_SERIES);
  const rest = ranked.slice(MAX_SERIES);
  if (rest.length > 0) {
    series.push({
      label: `${rest.length} more`,
      values: xs.map((_x, i) => sumDecimals(rest.map((one) => one.values[i]))),
    });
  }

  const cost = sumDecimals(report.buckets.map((b) => b.cost));
  const input = sumDecimals(report.buckets.map((b) => b.input_tokens));
  const output = sumDecimals(report.buckets.map((b) => b.output_tokens));
  const tokens = sumDecimals([input, output]);
  const requests = sumDecimals(report.buckets.map((b) => b.requests));
  const from = showInstant(report.period.from);
  const to = showInstant(report.period.to);
  const unit = measure === 'cost' ? 'cost in USD' : 'tokens (input and output)';
  const top = ranked
    .slice(0, 3)
    .map((one) => `${one.label} ${one.total}`)
    .join(', ');
  const label =
    `Stacked area chart of ${unit} per ${report.bucket} by ${by.label}, ${from} to ${to}: ` +
    (ranked.length === 0
      ? 'no usage.'
      : `${ranked.length} series, total ` +
        `${measure === 'cost' ? `${cost} USD` : `${tokens} tokens`}; largest ${top}. ` +
        'The table below lists every value.');

  const chart = stackedChart(place, {
    label,
    xs,
    series,
    valueLabel: measure === 'cost' ? 'USD' : 'tokens',
    onDrawn,
  });

  const model: TableModel = {
    caption: `Usage per ${report.bucket} by ${by.label}, ${from} to ${to} (UTC)`,
    columns: ['Start (UTC)', by.column, 'Requests', 'Input tokens', 'Output tokens', 'Cost (USD)'],
    rows: report.buckets.map((b) => [
      showInstant(b.start),
      by.key(b),
      b.requests,
      b.input_tokens,
      b.output_tokens,
      b.cost,
    ]),
    numeric: [2, 3, 4, 5],
  };
  return {
    destroy: chart.destroy,
    shown: {
      model,
      fileName: `usage-${fileStamp(report.period.from)}-${fileStamp(report.period.to)}.csv`,
    },
    summary:
      `Total cost ${cost} USD, ${tokens} tokens (${input} input, ${output} output), ` +
      `${requests} requests, ${from} to ${to}.`,
  };
}
