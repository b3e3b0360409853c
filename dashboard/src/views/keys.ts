import type { Page } from '../api';
import { credentialActions, showNewSecret } from '../credentials';
import { field, h, statusLine } from '../dom';
import { showInstant } from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface ApiKey {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  last4: string;
  spent_dollar: string;
  limit_credit_dollar: string | null;
  spend_period: string;
  expires_at: string | null;
  previous_key_valid_until: string | null;
  last_used_at: string | null;
  created_at: string;
}

export const keysView: View = (context) => {
  const userId = h('input', {
    type: 'text',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const name = h('input', { type: 'text', required: true, maxlength: 200, autocomplete: 'off' });
  const createStatus = h('div');
  const create = h(
    'form',
    { class: 'controls', 'aria-label': 'Create key' },
    h('h2', {}, 'Create key'),
    field('key-user-id', 'User id', userId),
    field('key-name', 'Name', name),
    h('button', { type: 'submit' }, 'Create key'),
    createStatus,
  );
  const secretPlace = h('div');
  const status = statusLine();
  const tablePlace = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let shown: { model: TableModel; fileName: string } | null = null;
  context.main.append(
    h('h1', {}, 'Keys'),
    create,
    secretPlace,
    h('h2', {}, 'API keys'),
    h(
      'div',
      { class: 'controls' },
      csvButton(() => shown),
    ),
    status,
    tablePlace,
    more,
  );

  let keys: ApiKey[] = [];
  let cursor: string | null = null;
  const asOf = () => new Date().toISOString();

  const render = () => {
    const now = asOf();
    const model: TableModel = {
      caption: `API keys, oldest first: ${keys.length}${cursor ? ' (more to load)' : ''}`,
      columns: [
        'Name',
        'ID',
        'Key',
        'User',
        'Spent (USD)',
        'Spend cap (USD)',
        'Created (UTC)',
        'Last used (UTC)',
        'Previous key valid until (UTC)',
      ],
      rows: keys.map((key) => [
        key.name,
        key.id,
        `${key.prefix}…${key.last4}`,
        key.user_id,
        key.spent_dollar,
        key.limit_credit_dollar === null
          ? 'none'
          : `${key.limit_credit_dollar} (${key.spend_period})`,
        showInstant(key.created_at),
        showInstant(key.last_used_at),
        showInstant(key.previous_key_valid_until),
      ]),
      numeric: [4],
    };
    shown = { model, fileName: `keys-${fileStamp(now)}-${fileStamp(now)}.csv` };
    tablePlace.replaceChildren(
      renderTable(model, {
        header: 'Actions',
        cell: (index) => {
          const key = keys[index];
          return credentialActions({
            context,
            path: `/api/admin/api-keys/${key.id}`,
            id: key.id,
            name: key.name,
            secretField: 'key',
            secretDescription: `The new key of ${key.name}.`,
            secretPlace,
            status,
            reload,
          });
        },
      }),
    );
    more.hidden = cursor === null;
  };

  const fetchPage = async (reset: boolean, announce = true) => {
    if (announce) status.textContent = 'Loading keys…';
    const page = await context.api.get<Page<ApiKey>>(
      '/api/admin/api-keys',
      { limit: '100', cursor: reset ? undefined : (cursor ?? undefined) },
      context.signal,
    );
    keys = reset ? page.items : [...keys, ...page.items];
    cursor = page.next_cursor;
    if (announce) status.textContent = keys.length === 0 ? 'No keys yet.' : '';
    render();
  };
  const reload = (announce = true) =>
    fetchPage(true, announce).catch((error: unknown) => reportError(context, status, error));

  create.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      try {
        const created = await context.api.post<{ key: string; name: string }>(
          '/api/admin/api-keys',
          { user_id: userId.value.trim(), name: name.value.trim() },
          context.signal,
        );
        name.value = '';
        createStatus.replaceChildren();
        showNewSecret(secretPlace, created.key, `The key ${created.name}.`, context.onLeave);
        await reload();
      } catch (error) {
        reportError(context, createStatus, error);
      }
    })();
  });
  more.addEventListener('click', () => {
    fetchPage(false).catch((error: unknown) => reportError(context, status, error));
  });
  void reload();
};
