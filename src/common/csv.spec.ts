import { toCsv } from './csv.js';
import { Decimal } from './decimal.js';

describe('toCsv', () => {
  it('writes cells a spreadsheet would run as formulas as text', () => {
    const rows = ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\r=1'].map(
      (name) => ({ name }),
    );
    expect(toCsv(['name'], rows).split('\r\n').slice(1, -1)).toEqual([
      `"'=HYPERLINK(""http://x"")"`,
      `'+1+1`,
      `'-2+3`,
      `'@SUM(A1)`,
      `'\tx`,
      `"'\r=1"`,
    ]);
  });

  it('keeps numbers, negative ones included, as they are', () => {
    const csv = toCsv(
      ['remaining', 'requests', 'text'],
      [{ remaining: new Decimal('-12.5'), requests: '-3', text: 'a,b' }],
    );
    expect(csv).toBe('remaining,requests,text\r\n-12.5,-3,"a,b"\r\n');
  });
});
