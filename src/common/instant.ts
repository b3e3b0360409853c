import { ValidateBy, isRFC3339, type ValidationOptions } from 'class-validator';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS[month - 1];
}

/**
 * An RFC 3339 date-time that is one instant: a day its month has, and seconds 00–59 (RFC 3339
 * allows a leap second, 60, which neither JavaScript nor Postgres can hold).
 */
export function isInstant(value: unknown): boolean {
  if (typeof value !== 'string' || !isRFC3339(value)) return false;
  const match = DATE_TIME.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    Number.isFinite(Date.parse(value))
  );
}

/** {@link isInstant} as a class-validator decorator. */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value) => isInstant(value),
        defaultMessage: () =>
          '$property must be an RFC 3339 date-time with a real day and seconds 00 to 59',
      },
    },
    options,
  );
}
