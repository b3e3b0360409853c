import { Decimal, serializeJson } from './decimal.js';

describe(Decimal.name, () => {
  it('keeps every digit of a Postgres numeric when serialised', () => {
    const body = { total: new Decimal('15123.455984876544000'), nested: [new Decimal('-0.5')] };
    expect(serializeJson(body)).toBe('{"total":15123.455984876544,"nested":[-0.5]}');
  });

  it('normalises trailing and leading zeros', () => {
    expect(new Decimal('0.000050000').text).toBe('0.00005');
    expect(new Decimal('10.000').text).toBe('10');
    expect(new Decimal('-0.000').text).toBe('0');
    expect(new Decimal('007').text).toBe('7');
  });

  it('refuses text that is not a plain decimal', () => {
    expect(() => new Decimal('1e5')).toThrow(TypeError);
    expect(() => new Decimal('NaN')).toThrow(TypeError);
  });

  it('leaves strings that look like the marker alone', () => {
    expect(serializeJson({ s: '\uE000abc:1' })).toBe('{"s":"\uE000abc:1"}');
  });

  it('knows positive from zero and negative', () => {
    expect(new Decimal('0.0001').isPositive()).toBe(true);
    expect(new Decimal('0').isPositive()).toBe(false);
    expect(new Decimal('-3').isPositive()).toBe(false);
  });
});
