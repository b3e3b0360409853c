import { Decimal } from './decimal.js';

// A cell a spreadsheet would run as a formula (CSV injection) starts with one of these; it is
// written with a leading apostrophe, which spreadsheets show as text. Numbers stay as they are.
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text =
    value instanceof Decimal
      ? value.text
      : value instanceof Date
        ? value.toISOString()
        : String(value);
  const safe = FORMULA.test(text) && !NUMBER.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** RFC 4180 CSV of `rows` under `columns`, numbers exact as in the JSON answers. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((column) => cell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
