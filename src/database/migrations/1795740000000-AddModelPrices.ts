import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Every price a model has had, from when it applied; the current one is also on `models`. */
export class AddModelPrices1795740000000 implements MigrationInterface {
  name = 'AddModelPrices1795740000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE model_prices (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        model_id uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        price_million_input numeric NOT NULL
          CONSTRAINT model_prices_input_check CHECK (price_million_input >= 0),
        price_million_output numeric NOT NULL
          CONSTRAINT model_prices_output_check CHECK (price_million_output >= 0),
        effective_from timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX model_prices_model_idx ON model_prices (model_id, effective_from DESC, id DESC)`,
    );
    await q.query(`
      INSERT INTO model_prices (model_id, price_million_input, price_million_output, effective_from)
      SELECT id, price_million_input, price_million_output, created_at FROM models`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE model_prices`);
  }
}
