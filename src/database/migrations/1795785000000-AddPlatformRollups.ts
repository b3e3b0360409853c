import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rollups of the whole platform: usage per day (and per hour) and model only, so reports with
 * no payer, organization or key filter read a few rows per bucket instead of summing every
 * payer's rollup rows. Backfilled from the existing rollups, which are locked against writes
 * meanwhile so the two start equal.
 */
export class AddPlatformRollups1795785000000 implements MigrationInterface {
  name = 'AddPlatformRollups1795785000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE usage_daily, usage_hourly IN SHARE MODE`);
    await q.query(`
      CREATE TABLE usage_daily_platform (
        day date NOT NULL,
        model_id uuid NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost numeric NOT NULL,
        CONSTRAINT usage_daily_platform_pkey PRIMARY KEY (day, model_id),
        CONSTRAINT usage_daily_platform_model_id_fkey FOREIGN KEY (model_id) REFERENCES models (id)
      )`);
    await q.query(`
      CREATE TABLE usage_hourly_platform (
        hour timestamptz NOT NULL,
        model_id uuid NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost numeric NOT NULL,
        CONSTRAINT usage_hourly_platform_pkey PRIMARY KEY (hour, model_id),
        CONSTRAINT usage_hourly_platform_model_id_fkey FOREIGN KEY (model_id) REFERENCES models (id)
      )`);
    await q.query(`
      INSERT INTO usage_daily_platform (day, model_id, requests, input_tokens, output_tokens, cost)
      SELECT day, model_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cost)
      FROM usage_daily
      GROUP BY day, model_id`);
    await q.query(`
      INSERT INTO usage_hourly_platform (hour, model_id, requests, input_tokens, output_tokens, cost)
      SELECT hour, model_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cost)
      FROM usage_hourly
      GROUP BY hour, model_id`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_hourly_platform`);
    await q.query(`DROP TABLE usage_daily_platform`);
  }
}
