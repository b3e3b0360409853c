/**
 * Exact arithmetic on decimal text (`"0.00009"`, `"-12.5"`), for the dashboard: amounts are
 * summed as BigInt integers scaled by a power of ten, never as floats. Pure, so the page and
 * its unit tests share it.
 */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

interface Scaled {
  units: bigint;
  scale: number;
}

function parse(text: string): Scaled {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new TypeError(`Not a decimal: ${text}`);
  const [, sign, whole, fraction = ''] = match;
  const units = BigInt(whole + fraction);
  return { units: sign ? -units : units, scale: fraction.length };
}

function rescale(value: Scaled, scale: number): bigint {
  return value.units * 10n ** BigInt(scale - value.scale);
}

function format(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  const text = fraction ? `${whole}.${fraction}` : whole;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

/** The exact sum of decimal texts, written as the API writes decimals (no trailing zeros). */
export function sumDecimals(values: Iterable<string>): string {
  const parsed = [...values].map(parse);
  const scale = Math.max(0, ...parsed.map((value) => value.scale));
  let total = 0n;
  for (const value of parsed) total += rescale(value, scale);
  return format(total, scale);
}

/** `a + b`, exactly. */
export function addDecimals(a: string, b: string): string {
  return sumDecimals([a, b]);
}

/** Negative, zero or positive as `a` is below, equal to or above `b`, compared exactly. */
export function compareDecimals(a: string, b: string): number {
  const left = parse(a);
  const right = parse(b);
  const scale = Math.max(left.scale, right.scale);
  const difference = rescale(left, scale) - rescale(right, scale);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/** The running totals of `values`, exactly: what a stacked chart draws, series by series. */
export function cumulativeSums(values: readonly string[]): string[] {
  const sums: string[] = [];
  let running = '0';
  for (const value of values) {
    running = addDecimals(running, value);
    sums.push(running);
  }
  return sums;
}
