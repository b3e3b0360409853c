import { Decimal } from './decimal.js';

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text =
    value instanceof Decimal
      ? value.text
      : value instanceof Date
        ? value.toISOString()
        : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of `rows` under `columns`, numbers exact as in the JSON answers. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((column) => cell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
