import type { Page } from '../api';
import { field, h, select, statusLine } from '../dom';
import { showInstant } from '../period';
import { csvButton, fileStamp, renderTable, type TableModel } from '../table';
import { reportError, type View } from '../view';

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  request_id: string | null;
}

const TARGET_TYPES = ['user', 'organization', 'api_key', 'service_client', 'model'] as const;

/** A `datetime-local` value, read as UTC, as RFC 3339; '' stays unset. */
function utcInstant(value: string): string | undefined {
  if (!value) return undefined;
  const time = Date.parse(`${value}Z`);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

const compact = (value: unknown) =>
  value === null || value === undefined ? '' : JSON.stringify(value);

export const auditView: View = (context) => {
  const action = h('input', { type: 'text', placeholder: 'api_key.rotate', autocomplete: 'off' });
  const targetType = select(
    [['', 'any'], ...TARGET_TYPES.map((type) => [type, type] as const)],
    '',
  );
  const targetId = h('input', { type: 'text', autocomplete: 'off' });
  const actor = h('input', { type: 'text', autocomplete: 'off' });
  const from = h('input', { type: 'datetime-local', step: 1 });
  const to = h('input', { type: 'datetime-local', step: 1 });
  const status = statusLine();
  const tablePlace = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let shown: { model: TableModel; fileName: string } | null = null;
  const filters = h(
    'form',
    { class: 'controls', 'aria-label': 'Audit filters' },
    field('audit-action', 'Action', action),
    field('audit-target-type', 'Target type', targetType),
    field('audit-target-id', 'Target id', targetId),
    field('audit-actor', 'Actor', actor),
    field('audit-from', 'From (UTC)', from),
    field('audit-to', 'To (UTC)', to),
    h('button', { type: 'submit' }, 'Apply filters'),
    csvButton(() => shown),
  );
  context.main.append(
    h('h1', {}, 'Audit log'),
    h('p', {}, 'Every admin change, newest first.'),
    filters,
    status,
    tablePlace,
    more,
  );

  let entries: AuditEntry[] = [];
  let cursor: string | null = null;
  let query: Record<string, string | undefined> = {};
  let load: AbortController | null = null;

  const render = () => {
    const times = entries.map((entry) => entry.at).sort();
    const first = query.from ?? times[0] ?? new Date().toISOString();
    const last = query.to ?? times[times.length - 1] ?? first;
    const model: TableModel = {
      caption: `Audit log, newest first: ${entries.length} ${entries.length === 1 ? 'change' : 'changes'}${cursor ? ' (more to load)' : ''}`,
      columns: [
        'At (UTC)',
        'Actor',
        'Action',
        'Target type',
        'Target id',
        'Request id',
        'Before',
        'After',
      ],
      rows: entries.map((entry) => [
        showInstant(entry.at),
        entry.actor,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.request_id ?? '',
        compact(entry.before),
        compact(entry.after),
      ]),
    };
    shown = { model, fileName: `audit-${fileStamp(first)}-${fileStamp(last)}.csv` };
    tablePlace.replaceChildren(renderTable(model));
    more.hidden = cursor === null;
  };

  const fetchPage = async (reset: boolean) => {
    load?.abort();
    load = new AbortController();
    const signal = AbortSignal.any([context.signal, load.signal]);
    status.textContent = 'Loading audit entries…';
    try {
      const page = await context.api.get<Page<AuditEntry>>(
        '/api/admin/audit',
        { ...query, limit: '100', cursor: reset ? undefined : (cursor ?? undefined) },
        signal,
      );
      entries = reset ? page.items : [...entries, ...page.items];
      cursor = page.next_cursor;
      status.textContent = entries.length === 0 ? 'No changes match these filters.' : '';
      render();
    } catch (error) {
      reportError(context, status, error);
    }
  };

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    query = {
      action: action.value.trim() || undefined,
      target_type: targetType.value || undefined,
      target_id: targetId.value.trim() || undefined,
      actor: actor.value.trim() || undefined,
      from: utcInstant(from.value),
      to: utcInstant(to.value),
    };
    void fetchPage(true);
  });
  more.addEventListener('click', () => void fetchPage(false));
  void fetchPage(true);
};
