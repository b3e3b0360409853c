import { compareDecimals, sumDecimals } from '../../../src/dashboard/page/decimal-text';
import { h, statusLine } from '../dom';
import { showInstant, thisMonth } from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface SpendBucket {
  api_key_id?: string;
  user_id?: string;
  requests: string;
  input_tokens: string;
  output_tokens: string;
  cost: string;
}

const TOP = 10;

/** One line per key or user: its buckets summed (a month bucket per month, so usually one). */
function ranked(buckets: SpendBucket[], key: (b: SpendBucket) => string) {
  const byKey = new Map<string, SpendBucket[]>();
  for (const bucket of buckets) {
    const id = key(bucket);
    byKey.set(id, [...(byKey.get(id) ?? []), bucket]);
  }
  return [...byKey.entries()]
    .map(([id, rows]) => ({
      id,
      requests: sumDecimals(rows.map((r) => r.requests)),
      tokens: sumDecimals(rows.flatMap((r) => [r.input_tokens, r.output_tokens])),
      cost: sumDecimals(rows.map((r) => r.cost)),
    }))
    .sort((a, b) => compareDecimals(b.cost, a.cost) || a.id.localeCompare(b.id))
    .slice(0, TOP);
}

export const topView: View = (context) => {
  const period = thisMonth();
  const month = period.from.slice(0, 7);
  const status = statusLine();
  const tablePlace = h('div');
  let shown: { model: TableModel; fileName: string } | null = null;
  context.main.append(
    h('h1', {}, 'Top spenders'),
    h(
      'p',
      {},
      `The ${TOP} API keys and the ${TOP} users (as payers) charged the most in ${month} (UTC), ` +
        `${showInstant(period.from)} to ${showInstant(period.to)}.`,
    ),
    h(
      'div',
      { class: 'controls' },
      csvButton(() => shown),
    ),
    status,
    tablePlace,
  );
  status.textContent = 'Loading spend…';
  const query = (group: string) =>
    context.api.get<{ buckets: SpendBucket[] }>(
      '/api/admin/usage',
      { from: period.from, to: period.to, bucket: 'month', group_by: group },
      context.signal,
    );
  Promise.all([query('api_key'), query('user')]).then(
    ([keys, users]) => {
      const rows = [
        ...ranked(keys.buckets, (b) => b.api_key_id ?? '').map(
          (row, i) => ['API key', i + 1, row] as const,
        ),
        ...ranked(users.buckets, (b) => b.user_id ?? '').map(
          (row, i) => ['User', i + 1, row] as const,
        ),
      ];
      const model: TableModel = {
        caption: `Top ${TOP} API keys and top ${TOP} users by cost, ${month} (UTC)`,
        columns: ['Kind', 'Rank', 'ID', 'Requests', 'Tokens', 'Cost (USD)'],
        rows: rows.map(([kind, rank, row]) => [
          kind,
          String(rank),
          row.id,
          row.requests,
          row.tokens,
          row.cost,
        ]),
        numeric: [1, 3, 4, 5],
      };
      shown = { model, fileName: `top-${fileStamp(period.from)}-${fileStamp(period.to)}.csv` };
      status.textContent = rows.length === 0 ? 'No spend this month yet.' : '';
      tablePlace.replaceChildren(renderTable(model));
    },
    (error: unknown) => reportError(context, status, error),
  );
};
