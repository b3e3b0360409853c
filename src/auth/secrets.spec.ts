import {
  displayParts,
  generateApiKey,
  generateServiceSecret,
  isWellFormedApiKey,
  parseAuthorization,
} from './secrets.js';
import { hashSecret, safeEqual } from '../common/crypto.js';

describe('API key format', () => {
  it('issues sk- followed by 64 lowercase hex characters', () => {
    for (let i = 0; i < 100; i++) expect(generateApiKey()).toMatch(/^sk-[0-9a-f]{64}$/);
  });

  it('issues keys that pass their own checksum, and different keys every time', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
    for (const key of keys) expect(isWellFormedApiKey(key)).toBe(true);
  });

  it('refuses a key with one character changed', () => {
    const key = generateApiKey();
    for (const position of [3, 20, 58, 66]) {
      const other = key[position] === 'a' ? 'b' : 'a';
      const typo = key.slice(0, position) + other + key.slice(position + 1);
      expect(isWellFormedApiKey(typo)).toBe(false);
    }
  });

  it('refuses keys of the wrong shape', () => {
    const key = generateApiKey();
    for (const bad of [
      '',
      'sk-xxx',
      key.toUpperCase(),
      key + '0',
      key.slice(0, -1),
      `pk-${key.slice(3)}`,
    ]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
  });

  it('shows only a prefix and the last four characters', () => {
    const key = generateApiKey();
    expect(displayParts(key)).toEqual({ prefix: key.slice(0, 11), last4: key.slice(-4) });
  });

  it('never shows more than a quarter of a short imported key', () => {
    expect(displayParts('sk-Secr3tPw')).toEqual({ prefix: 'sk-S', last4: 'w' });
    expect(displayParts('sk-abcdefgh12345678')).toEqual({ prefix: 'sk-ab', last4: '78' });
  });
});

describe('secrets', () => {
  it('hashes with SHA-256', () => {
    expect(hashSecret('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('issues service secrets of 256 bits', () => {
    expect(generateServiceSecret()).toMatch(/^ss-[0-9a-f]{64}$/);
  });

  it('compares strings of any length', () => {
    expect(safeEqual('same', 'same')).toBe(true);
    expect(safeEqual('same', 'different')).toBe(false);
  });

  it('reads the key from both Authorization forms', () => {
    expect(parseAuthorization('sk-abc')).toBe('sk-abc');
    expect(parseAuthorization('Bearer sk-abc')).toBe('sk-abc');
    expect(parseAuthorization('bearer   sk-abc ')).toBe('sk-abc');
    expect(parseAuthorization('Bearer ')).toBeUndefined();
    expect(parseAuthorization('Bearer')).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
  });
});
