import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSchema1795700000000 implements MigrationInterface {
  name = 'CreateSchema1795700000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text UNIQUE,
        credit_plan text NOT NULL DEFAULT 'prepaid'
          CONSTRAINT users_credit_plan_check CHECK (credit_plan IN ('prepaid', 'invoice')),
        credit_limit numeric CONSTRAINT users_credit_limit_check CHECK (credit_limit >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE user_credits (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        paid numeric NOT NULL DEFAULT 0,
        free numeric NOT NULL DEFAULT 0 CONSTRAINT user_credits_free_check CHECK (free >= 0),
        free_expires_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE monthly_spend (
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        month date NOT NULL,
        amount numeric NOT NULL DEFAULT 0,
        requests bigint NOT NULL DEFAULT 0,
        CONSTRAINT monthly_spend_pkey PRIMARY KEY (user_id, month)
      )`);
    await q.query(`
      CREATE TABLE organizations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        public_id uuid NOT NULL DEFAULT gen_random_uuid() CONSTRAINT organizations_public_id_key UNIQUE,
        name text NOT NULL,
        owner_user_id uuid NOT NULL REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX organizations_owner_idx ON organizations (owner_user_id)`);
    await q.query(`
      CREATE TABLE organization_members (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id),
        role text NOT NULL
          CONSTRAINT organization_members_role_check CHECK (role IN ('manager', 'reader')),
        created_at timestamptz NOT NULL DEFAULT now(),
        removed_at timestamptz
      )`);
    await q.query(`
      CREATE UNIQUE INDEX organization_members_active_idx
        ON organization_members (organization_id, user_id) WHERE removed_at IS NULL`);
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id),
        name text NOT NULL,
        key_hash bytea NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE,
        prefix text NOT NULL,
        last4 text NOT NULL,
        limit_credit_dollar numeric
          CONSTRAINT api_keys_limit_check CHECK (limit_credit_dollar >= 0),
        spent_dollar numeric NOT NULL DEFAULT 0,
        allowed_models text[],
        rpm_limit integer CONSTRAINT api_keys_rpm_limit_check CHECK (rpm_limit >= 1),
        expires_at timestamptz,
        revoked_at timestamptz,
        deleted_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at)`);
    await q.query(`
      CREATE TABLE service_clients (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        secret_hash bytea NOT NULL CONSTRAINT service_clients_secret_hash_key UNIQUE,
        prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`
      CREATE TABLE models (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        unique_name text NOT NULL CONSTRAINT models_unique_name_key UNIQUE,
        enabled boolean NOT NULL DEFAULT true,
        price_million_input numeric NOT NULL
          CONSTRAINT models_price_input_check CHECK (price_million_input >= 0),
        price_million_output numeric NOT NULL
          CONSTRAINT models_price_output_check CHECK (price_million_output >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE usage_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
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
        response text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE UNIQUE INDEX usage_events_request_id_idx
        ON usage_events (api_key_id, request_id) WHERE request_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_events_api_key_idx ON usage_events (api_key_id, created_at)`);
    await q.query(
      `CREATE INDEX usage_events_payer_idx ON usage_events (payer_user_id, created_at)`,
    );
    await q.query(`
      CREATE INDEX usage_events_organization_idx
        ON usage_events (organization_id, created_at) WHERE organization_id IS NOT NULL`);
    await q.query(`CREATE INDEX usage_events_created_idx ON usage_events (created_at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'usage_events',
      'models',
      'service_clients',
      'api_keys',
      'organization_members',
      'organizations',
      'monthly_spend',
      'user_credits',
      'users',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
