import type { AdminApi, Page } from '../api';
import { h, statusLine } from '../dom';
import { showInstant } from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface User {
  id: string;
  email: string | null;
  credit_plan: 'prepaid' | 'invoice';
  credit_limit: string | null;
  credit: { paid: string; free: string; reserved: string; remaining: string | null };
}

interface Organization {
  id: string;
  public_id: string;
  name: string;
  owner_user_id: string;
  monthly_budget: string | null;
  time_zone: string;
  rpm_limit: string | null;
  tpm_limit: string | null;
  limits_mode: string;
}

/** Lists are read whole, page by page, up to this many rows each. */
const MAX_ROWS = 5000;

export async function readAll<T>(
  api: AdminApi,
  path: string,
  signal: AbortSignal,
  params: Record<string, string | undefined> = {},
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<Page<T>>(path, { ...params, limit: '500', cursor }, signal);
    items.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && items.length < MAX_ROWS);
  return { items, complete: !cursor };
}

const none = (value: string | null, empty = 'none') => value ?? empty;

export const creditView: View = (context) => {
  const status = statusLine();
  const tablePlace = h('div');
  let shown: { model: TableModel; fileName: string } | null = null;
  context.main.append(
    h('h1', {}, 'Credit and limits'),
    h(
      'p',
      {},
      'Users with their plan, remaining credit and monthly credit limit; organizations with ' +
        'their monthly budget and rate limits (empty limits use the service defaults).',
    ),
    h(
      'div',
      { class: 'controls' },
      csvButton(() => shown),
    ),
    status,
    tablePlace,
  );
  status.textContent = 'Loading users and organizations…';
  const asOf = new Date().toISOString();
  Promise.all([
    readAll<User>(context.api, '/api/admin/users', context.signal),
    readAll<Organization>(context.api, '/api/admin/organizations', context.signal),
  ]).then(
    ([users, organizations]) => {
      const model: TableModel = {
        caption: `Users and organizations, as of ${showInstant(asOf)}`,
        columns: [
          'Kind',
          'ID',
          'Email or name',
          'Plan',
          'Remaining credit (USD)',
          'Credit limit (USD per month)',
          'Monthly budget (USD)',
          'RPM limit',
          'TPM limit',
          'Limits mode',
        ],
        rows: [
          ...users.items.map((user) => [
            'User',
            user.id,
            user.email ?? '',
            user.credit_plan,
            none(user.credit.remaining, 'unlimited'),
            none(user.credit_limit),
            '',
            '',
            '',
            '',
          ]),
          ...organizations.items.map((org) => [
            'Organization',
            org.id,
            org.name,
            '',
            '',
            '',
            `${none(org.monthly_budget)}${org.monthly_budget ? ` (${org.time_zone})` : ''}`,
            none(org.rpm_limit, 'default'),
            none(org.tpm_limit, 'default'),
            org.limits_mode,
          ]),
        ],
        numeric: [4, 5, 7, 8],
      };
      shown = { model, fileName: `credit-${fileStamp(asOf)}-${fileStamp(asOf)}.csv` };
      const partial = !users.complete || !organizations.complete;
      status.textContent = partial ? `Showing the first ${MAX_ROWS} of each list.` : '';
      tablePlace.replaceChildren(renderTable(model));
    },
    (error: unknown) => reportError(context, status, error),
  );
};
