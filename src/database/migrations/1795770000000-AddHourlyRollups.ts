import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Hourly rollups beside the daily ones, so hour-bucket reports do not read raw events either. */
export class AddHourlyRollups1795770000000 implements MigrationInterface {
  name = 'AddHourlyRollups1795770000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_hourly (
        hour timestamptz NOT NULL,
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        user_id uuid NOT NULL REFERENCES users (id),
        payer_user_id uuid NOT NULL REFERENCES users (id),
        organization_id uuid REFERENCES organizations (id),
        model_id uuid NOT NULL REFERENCES models (id),
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost numeric NOT NULL
      )`);
    await q.query(`
      CREATE UNIQUE INDEX usage_hourly_key_idx ON usage_hourly
        (hour, api_key_id, model_id, payer_user_id, COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid))`);
    await q.query(`CREATE INDEX usage_hourly_payer_idx ON usage_hourly (payer_user_id, hour)`);
    await q.query(
      `CREATE INDEX usage_hourly_organization_idx ON usage_hourly (organization_id, hour) WHERE organization_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX usage_hourly_hour_idx ON usage_hourly (hour)`);
    await q.query(`
      INSERT INTO usage_hourly (hour, api_key_id, user_id, payer_user_id, organization_id, model_id,
        requests, input_tokens, output_tokens, cost)
      SELECT date_trunc('hour', created_at), api_key_id, user_id, payer_user_id, organization_id, model_id,
        count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
      FROM usage_events
      GROUP BY 1, api_key_id, user_id, payer_user_id, organization_id, model_id`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_hourly`);
  }
}
