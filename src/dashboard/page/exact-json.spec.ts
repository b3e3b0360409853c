import { parseExactJson } from './exact-json.js';

describe(parseExactJson.name, () => {
  it('reads every number as the text the server wrote', () => {
    expect(
      parseExactJson('{"cost":0.30000000000000004,"requests":9007199254740993,"n":-1.50}'),
    ).toEqual({ cost: '0.30000000000000004', requests: '9007199254740993', n: '-1.50' });
  });

  it('leaves strings alone, digits and escaped quotes included', () => {
    expect(parseExactJson('{"a":"12 \\"3\\" 4","b":[1,"2",null,true]}')).toEqual({
      a: '12 "3" 4',
      b: ['1', '2', null, true],
    });
  });

  it('keeps exponents as written', () => {
    expect(parseExactJson('[1e-7, 2E+3]')).toEqual(['1e-7', '2E+3']);
  });

  it('refuses what is not JSON', () => {
    expect(() => parseExactJson('{"a":')).toThrow(SyntaxError);
    expect(() => parseExactJson('"open')).toThrow('Unterminated string in JSON');
  });
});
