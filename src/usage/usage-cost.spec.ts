import pg from 'pg';
import { tokenCost } from '../ledger/ledger-sql.js';

/**
 * The cost arithmetic runs in Postgres, in `numeric`. This checks the service's expression
 * against exact integer arithmetic (BigInt) for random token counts and prices.
 */
const COST_SQL = `SELECT (${tokenCost('$1', '$2::numeric')})::text AS cost`;

function exactCost(tokens: bigint, priceMicros: bigint): string {
  // tokens × (priceMicros / 1e6) / 1e6 = tokens × priceMicros / 1e12, written out exactly.
  const scaled = tokens * priceMicros;
  const whole = scaled / 1_000_000_000_000n;
  const fraction = (scaled % 1_000_000_000_000n).toString().padStart(12, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

function trim(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

describe('usage cost arithmetic', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: process.env.GUARD_TEST_SERVER_URL });
    await client.connect();
  });
  afterAll(() => client.end());

  it('is exact for 2,000 random token counts and prices', async () => {
    for (let i = 0; i < 2000; i++) {
      const tokens = BigInt(Math.floor(Math.random() * 1_000_000_001));
      const priceMicros = BigInt(Math.floor(Math.random() * 1_000_000_000_000)); // up to $1M / M
      const price = exactCost(priceMicros, 1_000_000n); // priceMicros / 1e6, as decimal text
      const { rows } = await client.query(COST_SQL, [tokens.toString(), price]);
      expect(trim(rows[0].cost)).toBe(exactCost(tokens, priceMicros));
    }
  });

  it('writes the seed example as 0.00005 + 0.00004 = 0.00009', async () => {
    const { rows } = await client.query(
      `SELECT (${tokenCost('100', '0.5')} + ${tokenCost('80', '0.5')})::text AS total`,
    );
    expect(trim(rows[0].total)).toBe('0.00009');
  });
});
