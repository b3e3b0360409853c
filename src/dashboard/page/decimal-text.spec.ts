import { addDecimals, compareDecimals, cumulativeSums, sumDecimals } from './decimal-text.js';

describe('decimal text arithmetic', () => {
  it('sums amounts that floats would round', () => {
    expect(sumDecimals(['0.1', '0.2'])).toBe('0.3');
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(sumDecimals(['0.00009', '0.00009', '0.00002'])).toBe('0.0002');
  });

  it('keeps every digit of large and long amounts', () => {
    expect(sumDecimals(['9007199254740993', '1'])).toBe('9007199254740994');
    expect(addDecimals('123456789012345678.123456789', '0.000000001')).toBe(
      '123456789012345678.12345679',
    );
  });

  it('writes results as the API writes decimals: no trailing zeros, no negative zero', () => {
    expect(sumDecimals([])).toBe('0');
    expect(sumDecimals(['1.50', '2.50'])).toBe('4');
    expect(addDecimals('-0.5', '0.5')).toBe('0');
    expect(addDecimals('-1.25', '0.05')).toBe('-1.2');
    expect(addDecimals('0.001', '-0.002')).toBe('-0.001');
  });

  it('refuses text that is not a plain decimal', () => {
    expect(() => sumDecimals(['1e-7'])).toThrow(TypeError);
    expect(() => sumDecimals(['abc'])).toThrow('Not a decimal: abc');
    expect(() => sumDecimals(['.5'])).toThrow(TypeError);
  });

  it('compares exactly across scales', () => {
    expect(compareDecimals('0.10', '0.1')).toBe(0);
    expect(compareDecimals('0.00000000000000000001', '0')).toBe(1);
    expect(compareDecimals('-2', '1.5')).toBe(-1);
    expect(['0.3', '10', '2.25'].sort(compareDecimals)).toEqual(['0.3', '2.25', '10']);
  });

  it('gives the running totals a stacked chart draws', () => {
    expect(cumulativeSums(['0.1', '0.2', '0.3'])).toEqual(['0.1', '0.3', '0.6']);
  });
});
