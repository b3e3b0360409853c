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

/** How a key is shown after creation: its first 11 and last 4 characters. */
export function displayParts(secret: string): { prefix: string; last4: string } {
  return { prefix: secret.slice(0, 11), last4: secret.slice(-4) };
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
