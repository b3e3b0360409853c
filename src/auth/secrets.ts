import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const API_KEY_PATTERN = /^sk-[0-9a-f]{64}$/;
const RANDOM_HEX = 56;

function checksum(randomPart: string): string {
  return crc32(randomPart).toString(16).padStart(8, '0');
}

/**
 * A new API key: `sk-`, 56 lowercase hex characters (224 bits from the OS's CSPRNG), then
 * the CRC32 of those 56 characters as 8 hex characters, so typos are caught without a lookup.
 */
export function generateApiKey(): string {
  const randomPart = randomBytes(RANDOM_HEX / 2).toString('hex');
  return `sk-${randomPart}${checksum(randomPart)}`;
}

/** Shape and checksum of a key this service issued; no lookup involved. */
export function isWellFormedApiKey(key: string): boolean {
  if (!API_KEY_PATTERN.test(key)) return false;
  const body = key.slice(3);
  return checksum(body.slice(0, RANDOM_HEX)) === body.slice(RANDOM_HEX);
}

// Keys of the old platform: `sk-` and printable characters, without a checksum.
const LEGACY_KEY_PATTERN = /^sk-[\x21-\x7e]{8,250}$/;

/** Could be a key imported from the old platform (shape only; they carry no checksum). */
export function isPossibleLegacyKey(key: string): boolean {
  return LEGACY_KEY_PATTERN.test(key);
}

/** A service client's secret: `ss-` and 64 lowercase hex characters (256 bits). */
export function generateServiceSecret(): string {
  return `ss-${randomBytes(32).toString('hex')}`;
}

/**
 * How a key or secret is shown after creation: its type prefix (`sk-`) with the first 8 and the
 * last 4 characters of the secret part, but never more than a quarter of it, so a short
 * (imported) key is not given away.
 */
export function displayParts(secret: string): { prefix: string; last4: string } {
  const body = secret.slice(3);
  const shown = Math.floor(body.length / 4);
  const head = Math.min(8, Math.ceil(shown / 2));
  const tail = Math.min(4, shown - head);
  return {
    prefix: secret.slice(0, 3) + body.slice(0, head),
    last4: tail > 0 ? body.slice(-tail) : '',
  };
}

/** The key in an `Authorization` header, given as `sk-…` or `Bearer sk-…`. */
export function parseAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header
    .trim()
    .replace(/^bearer(\s+|$)/i, '')
    .trim();
  return value === '' ? undefined : value;
}
