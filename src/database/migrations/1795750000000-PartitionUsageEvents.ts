import type { MigrationInterface, QueryRunner } from 'typeorm';

const COLUMNS = `id, api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id, model,
  input_tokens, output_tokens, max_tokens, temperature, top_p, echo, stream,
  client_input_cost, client_output_cost, client_total_cost,
  price_million_input, price_million_output, input_cost, output_cost, total_cost,
  messages, messages_bytes, request_id, request_hash, created_at`;

/**
 * Usage events partitioned by calendar month (UTC), so old months can be detached and queries
 * on a period touch only its partitions; a default partition catches what no month holds.
 * Idempotency keys move to a table of their own (a unique index on a partitioned table must
 * include the month), and daily rollups per payer, organization, key and model are added.
 */
export class PartitionUsageEvents1795750000000 implements MigrationInterface {
  name = 'PartitionUsageEvents1795750000000';

  public async up(q: QueryRunner): Promise<void> {
    // Creates the monthly partitions from `from_month` to `months_ahead` months after now.
    await q.query(`
      CREATE FUNCTION guard_ensure_usage_partitions(from_month date, months_ahead integer)
      RETURNS integer LANGUAGE plpgsql AS $$
      DECLARE
        month date := date_trunc('month', from_month)::date;
        last_month date := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months_ahead))::date;
        name text;
        created integer := 0;
      BEGIN
        WHILE month <= last_month LOOP
          name := format('usage_events_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
          IF to_regclass(name) IS NULL THEN
            EXECUTE format(
              'CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
              name, month::timestamp AT TIME ZONE 'UTC', (month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
          END IF;
          month := (month + interval '1 month')::date;
        END LOOP;
        RETURN created;
      END $$`);

    await q.query(`ALTER TABLE usage_events RENAME TO usage_events_unpartitioned`);
    for (const index of ['api_key', 'payer', 'organization', 'created', 'request_id']) {
      await q.query(
        `ALTER INDEX usage_events_${index}_idx RENAME TO usage_events_unpartitioned_${index}_idx`,
      );
    }
    await q.query(
      `ALTER TABLE usage_events_unpartitioned RENAME CONSTRAINT usage_events_pkey TO usage_events_unpartitioned_pkey`,
    );
    await q.query(`
      CREATE TABLE usage_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        user_id uuid NOT NULL REFERENCES users (id),
        payer_user_id uuid NOT NULL REFERENCES users (id),
        organization_id uuid REFERENCES organizations (id),
        service_client_id uuid NOT NULL REFERENCES service_clients (id),
        model_id uuid NOT NULL REFERENCES models (id),
        model text NOT NULL,
        input_tokens integer NOT NULL CONSTRAINT usage_events_input_tokens_check CHECK (input_tokens >= 0),
        output_tokens integer NOT NULL CONSTRAINT usage_events_output_tokens_check CHECK (output_tokens >= 0),
        max_tokens integer,
        temperature double precision,
        top_p double precision,
        echo boolean,
        stream boolean,
        client_input_cost numeric,
        client_output_cost numeric,
        client_total_cost numeric,
        price_million_input numeric NOT NULL,
        price_million_output numeric NOT NULL,
        input_cost numeric NOT NULL,
        output_cost numeric NOT NULL,
        total_cost numeric NOT NULL,
        messages jsonb,
        messages_bytes integer,
        request_id text,
        request_hash bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT usage_events_pkey PRIMARY KEY (id, created_at)
      ) PARTITION BY RANGE (created_at)`);
    await q.query(`CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT`);
    await q.query(`CREATE INDEX usage_events_api_key_idx ON usage_events (api_key_id, created_at)`);
    await q.query(
      `CREATE INDEX usage_events_payer_idx ON usage_events (payer_user_id, created_at)`,
    );
    await q.query(`
      CREATE INDEX usage_events_organization_idx
        ON usage_events (organization_id, created_at) WHERE organization_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_events_created_idx ON usage_events (created_at)`);
    await q.query(`
      SELECT guard_ensure_usage_partitions(
        LEAST((SELECT min(created_at) FROM usage_events_unpartitioned), now())::date, 3)`);
    await q.query(
      `INSERT INTO usage_events (${COLUMNS}) SELECT ${COLUMNS} FROM usage_events_unpartitioned`,
    );

    await q.query(`
      CREATE TABLE usage_requests (
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        request_id text NOT NULL,
        request_hash bytea NOT NULL,
        usage_event_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT usage_requests_pkey PRIMARY KEY (api_key_id, request_id)
      )`);
    await q.query(`
      INSERT INTO usage_requests (api_key_id, request_id, request_hash, usage_event_id, created_at)
      SELECT api_key_id, request_id, request_hash, id, created_at
      FROM usage_events_unpartitioned WHERE request_id IS NOT NULL`);
    await q.query(`ALTER TABLE usage_replays DROP CONSTRAINT usage_replays_usage_event_id_fkey`);
    await q.query(`DROP TABLE usage_events_unpartitioned`);

    await q.query(`
      CREATE TABLE usage_daily (
        day date NOT NULL,
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
      CREATE UNIQUE INDEX usage_daily_key_idx ON usage_daily
        (day, api_key_id, model_id, payer_user_id, COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid))`);
    await q.query(`CREATE INDEX usage_daily_payer_idx ON usage_daily (payer_user_id, day)`);
    await q.query(
      `CREATE INDEX usage_daily_organization_idx ON usage_daily (organization_id, day) WHERE organization_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX usage_daily_day_idx ON usage_daily (day)`);
    await q.query(`
      INSERT INTO usage_daily (day, api_key_id, user_id, payer_user_id, organization_id, model_id,
        requests, input_tokens, output_tokens, cost)
      SELECT (created_at AT TIME ZONE 'UTC')::date, api_key_id, user_id, payer_user_id, organization_id, model_id,
        count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
      FROM usage_events
      GROUP BY 1, api_key_id, user_id, payer_user_id, organization_id, model_id`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_daily`);
    await q.query(`ALTER TABLE usage_events RENAME TO usage_events_partitioned`);
    await q.query(`
      CREATE TABLE usage_events AS SELECT ${COLUMNS} FROM usage_events_partitioned`);
    await q.query(`ALTER TABLE usage_events ADD PRIMARY KEY (id)`);
    await q.query(`DROP TABLE usage_events_partitioned`);
    await q.query(`DROP TABLE usage_requests`);
    await q.query(`DROP FUNCTION guard_ensure_usage_partitions(date, integer)`);
  }
}
