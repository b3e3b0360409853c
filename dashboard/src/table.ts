import { h } from './dom';

/** What a view shows as rows: its table and its CSV come from this one model. */
export interface TableModel {
  caption: string;
  columns: readonly string[];
  /** Exact text of every cell, as the API wrote it ('' for none). */
  rows: readonly (readonly string[])[];
  /** Columns holding numbers, aligned right. */
  numeric?: readonly number[];
}

/** A `<table>` of the model; `extra` adds a cell of controls at the end of each row. */
export function renderTable(
  model: TableModel,
  extra?: { header: string; cell: (index: number) => Node },
): HTMLElement {
  const numeric = new Set(model.numeric ?? []);
  const headRow = h('tr');
  model.columns.forEach((column) => headRow.appendChild(h('th', { scope: 'col' }, column)));
  if (extra) headRow.appendChild(h('th', { scope: 'col' }, extra.header));
  const body = h('tbody');
  model.rows.forEach((row, index) => {
    const tr = h('tr');
    row.forEach((cell, column) =>
      tr.appendChild(h('td', { class: numeric.has(column) ? 'num' : null }, cell)),
    );
    if (extra) tr.appendChild(h('td', { class: 'actions' }, extra.cell(index)));
    body.appendChild(tr);
  });
  if (model.rows.length === 0) {
    const span = model.columns.length + (extra ? 1 : 0);
    body.appendChild(h('tr', {}, h('td', { colspan: span, class: 'empty' }, 'No rows.')));
  }
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': model.caption },
    h('table', {}, h('caption', {}, model.caption), h('thead', {}, headRow), body),
  );
}

// A cell a spreadsheet would run as a formula starts with one of these (the service's own CSV
// answers guard against it the same way); numbers stay as they are.
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

function csvCell(text: string): string {
  const safe = FORMULA.test(text) && !NUMBER.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** RFC 4180 CSV of exactly the model's rows. */
export function toCsv(model: TableModel): string {
  const lines = [model.columns, ...model.rows].map((row) => row.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Saves the model's rows as `<view>-<from>-<to>.csv`. */
export function downloadCsv(model: TableModel, fileName: string): void {
  const url = URL.createObjectURL(new Blob([toCsv(model)], { type: 'text/csv;charset=utf-8' }));
  const link = h('a', { href: url, download: fileName, hidden: true });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** `2026-11-02T00:00:00.000Z` → `2026-11-02T000000Z`: a time fit for a file name. */
export function fileStamp(instant: string): string {
  return new Date(instant)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '');
}

/** The `Download CSV` button of a view; `current` gives what the view shows when pressed. */
export function csvButton(
  current: () => { model: TableModel; fileName: string } | null,
): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  button.addEventListener('click', () => {
    const shown = current();
    if (shown) downloadCsv(shown.model, shown.fileName);
  });
  return button;
}
