import { randomBytes } from 'node:crypto';

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
/** What {@link serializeJson} writes a Decimal as, then replaces by its bare digits. */
const marker = `\uE000${randomBytes(6).toString('hex')}:`;
const markerPattern = new RegExp(`"${marker}(-?[0-9.]+)"`, 'g');
/** Set while {@link serializeJson} runs (JSON.stringify is synchronous). */
let serializing = false;

/**
 * An exact decimal amount as Postgres `numeric` returned it. It is never turned into a
 * JavaScript float: {@link serializeJson} writes its digits into the JSON as a number.
 */
export class Decimal {
  readonly text: string;

  constructor(text: string) {
    if (!DECIMAL_TEXT.test(text)) throw new TypeError(`Not a decimal: ${text}`);
    this.text = normalize(text);
  }

  static of(text: string): Decimal;
  static of(text: string | null | undefined): Decimal | null;
  static of(text: string | null | undefined): Decimal | null {
    return text === null || text === undefined ? null : new Decimal(text);
  }

  isPositive(): boolean {
    return !this.text.startsWith('-') && /[1-9]/.test(this.text);
  }

  toString(): string {
    return this.text;
  }

  /**
   * Inside {@link serializeJson}, a marked string that it turns into the bare number (no
   * replacer callback on every value); elsewhere, the object's own fields as before.
   */
  toJSON(): string | { text: string } {
    return serializing ? marker + this.text : { text: this.text };
  }
}

/** A validated finite JSON number as text for a `numeric` parameter: no arithmetic on it. */
export function numericParam(value: number | null | undefined): string | null {
  return value === undefined || value === null ? null : String(value);
}

function normalize(text: string): string {
  let out = text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  out = out.replace(/^(-?)0+(?=\d)/, '$1');
  return out === '-0' ? '0' : out;
}

/** JSON.stringify that writes {@link Decimal} values as exact JSON numbers. */
export function serializeJson(value: unknown): string {
  serializing = true;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    serializing = false;
  }
  return json.includes(marker) ? json.replace(markerPattern, '$1') : json;
}
