import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../config/app-config.js';
import { resolveDatabase } from '../local-setup.js';
import { DEMO_PRICES } from './demo-seeder.service.js';

/**
 * `npm run seed:usage -- --events 10000000`: realistic usage for tests at scale and benchmarks,
 * loaded with COPY. Makes its own users (skewed: a few heavy payers, a long tail), keys,
 * organizations with members, and a service client, then events spread over `--days` with
 * costs computed exactly (integer micro-units, no float), then the rollups of the rows it
 * loaded: daily and hourly per payer, organization, key and model, and daily and hourly for the
 * whole platform per model. Balances are not debited: this is history, not live traffic.
 */
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    days: { type: 'string', default: '90' },
    users: { type: 'string', default: '2000' },
    organizations: { type: 'string', default: '100' },
    streams: { type: 'string', default: '2' },
  },
});
const EVENTS = Number(values.events);
const DAYS = Number(values.days);
const USERS = Number(values.users);
const ORGANIZATIONS = Number(values.organizations);
const STREAMS = Number(values.streams);
const BATCH = 5000;

/** Decimal text (at most 6 decimals, as prices are) to integer millionths, without a float. */
function micros(price: string): bigint {
  const [whole, fraction = ''] = price.split('.');
  if (fraction.replace(/0+$/, '').length > 6)
    throw new Error(`Price with more than 6 decimals: ${price}`);
  return BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0').slice(0, 6));
}

/** tokens × price per million, in 1e-12 USD: exact integer arithmetic. */
function cost(tokens: number, priceMicros: bigint): bigint {
  return BigInt(tokens) * priceMicros;
}

function decimal(picoDollars: bigint): string {
  const whole = picoDollars / 1_000_000_000_000n;
  const fraction = (picoDollars % 1_000_000_000_000n).toString().padStart(12, '0');
  return `${whole}.${fraction}`;
}

/** A small deterministic generator: the same arguments give the same data shape. */
function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  if (![EVENTS, DAYS, USERS, ORGANIZATIONS, STREAMS].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(
      '--events, --days, --users, --organizations and --streams are positive integers',
    );
  }
  const { url, embedded } = await resolveDatabase(loadConfig());
  const pool = new pg.Pool({ connectionString: url, max: STREAMS + 1 });
  const started = Date.now();
  try {
    const fixtures = await makeFixtures(pool);
    process.stdout.write(
      `Fixtures: ${USERS} users, ${ORGANIZATIONS} organizations (${Date.now() - started} ms)\n`,
    );
    await pool.query(
      `SELECT guard_ensure_usage_partitions((now() - make_interval(days => $1))::date, 3)`,
      [DAYS],
    );

    const perStream = Math.ceil(EVENTS / STREAMS);
    let loaded = 0;
    const progress = setInterval(
      () => process.stdout.write(`  ${loaded.toLocaleString()} events\n`),
      10_000,
    );
    await Promise.all(
      Array.from({ length: STREAMS }, (_, stream) =>
        copyEvents(
          pool,
          fixtures,
          stream,
          Math.min(perStream, EVENTS - stream * perStream),
          (n) => (loaded += n),
        ),
      ),
    );
    clearInterval(progress);
    const loadedAt = Date.now();
    process.stdout.write(
      `Loaded ${EVENTS.toLocaleString()} events in ${((loadedAt - started) / 1000).toFixed(1)} s ` +
        `(${Math.round(EVENTS / ((loadedAt - started) / 1000)).toLocaleString()} rows/s)\n`,
    );
    await pool.query(
      `INSERT INTO usage_daily AS d (day, api_key_id, user_id, payer_user_id, organization_id, model_id,
         requests, input_tokens, output_tokens, cost)
       SELECT (created_at AT TIME ZONE 'UTC')::date, api_key_id, user_id, payer_user_id, organization_id, model_id,
         count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
       FROM usage_events WHERE service_client_id = $1
       GROUP BY 1, api_key_id, user_id, payer_user_id, organization_id, model_id
       ON CONFLICT (day, api_key_id, model_id, payer_user_id,
         COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid))
       DO UPDATE SET requests = d.requests + EXCLUDED.requests, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
         output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost = d.cost + EXCLUDED.cost`,
      [fixtures.serviceClientId],
    );
    await pool.query(
      `INSERT INTO usage_hourly AS d (hour, api_key_id, user_id, payer_user_id, organization_id, model_id,
         requests, input_tokens, output_tokens, cost)
       SELECT date_trunc('hour', created_at), api_key_id, user_id, payer_user_id, organization_id, model_id,
         count(*), sum(input_tokens), sum(output_tokens), sum(total_cost)
       FROM usage_events WHERE service_client_id = $1
       GROUP BY 1, api_key_id, user_id, payer_user_id, organization_id, model_id
       ON CONFLICT (hour, api_key_id, model_id, payer_user_id,
         COALESCE(organization_id, '00000000-0000-0000-0000-000000000000'::uuid))
       DO UPDATE SET requests = d.requests + EXCLUDED.requests, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
         output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost = d.cost + EXCLUDED.cost`,
      [fixtures.serviceClientId],
    );
    // The platform rollups in one scan: per hour, UTC day and model (a few rows per hour), then
    // summed per day and per hour. The day is taken from each event, not from its hour bucket.
    await pool.query(
      `WITH loaded AS (
         SELECT date_trunc('hour', created_at) AS hour, (created_at AT TIME ZONE 'UTC')::date AS day, model_id,
           count(*) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(total_cost) AS cost
         FROM usage_events WHERE service_client_id = $1
         GROUP BY 1, 2, model_id
       ), daily AS (
         INSERT INTO usage_daily_platform AS d (day, model_id, requests, input_tokens, output_tokens, cost)
         SELECT day, model_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cost)
         FROM loaded GROUP BY day, model_id
         ON CONFLICT (day, model_id)
         DO UPDATE SET requests = d.requests + EXCLUDED.requests, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
           output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost = d.cost + EXCLUDED.cost
       )
       INSERT INTO usage_hourly_platform AS d (hour, model_id, requests, input_tokens, output_tokens, cost)
       SELECT hour, model_id, sum(requests), sum(input_tokens), sum(output_tokens), sum(cost)
       FROM loaded GROUP BY hour, model_id
       ON CONFLICT (hour, model_id)
       DO UPDATE SET requests = d.requests + EXCLUDED.requests, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
         output_tokens = d.output_tokens + EXCLUDED.output_tokens, cost = d.cost + EXCLUDED.cost`,
      [fixtures.serviceClientId],
    );
    for (const table of [
      'usage_events',
      'usage_daily',
      'usage_hourly',
      'usage_daily_platform',
      'usage_hourly_platform',
    ]) {
      await pool.query(`ANALYZE ${table}`);
    }
    process.stdout.write(
      `Rolled up and analysed in ${((Date.now() - loadedAt) / 1000).toFixed(1)} s\n`,
    );
    process.stdout.write(
      `Service client of this load: ${fixtures.serviceClientId}; organizations: ${fixtures.organizations
        .slice(0, 3)
        .map((o) => o.id)
        .join(', ')}…\n`,
    );
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

interface Fixtures {
  serviceClientId: string;
  users: { id: string; keyId: string }[];
  organizations: { id: string; ownerIndex: number }[];
  /** For each user, the organizations it may bill to. */
  memberships: number[][];
  models: { id: string; name: string; inMicros: bigint; outMicros: bigint; weight: number }[];
}

async function makeFixtures(pool: pg.Pool): Promise<Fixtures> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const models = [];
    for (const [index, price] of DEMO_PRICES.entries()) {
      const { rows } = await client.query(
        `INSERT INTO models (unique_name, price_million_input, price_million_output) VALUES ($1, $2::numeric, $3::numeric)
         ON CONFLICT (unique_name) DO UPDATE SET unique_name = EXCLUDED.unique_name
         RETURNING id, price_million_input::text AS pin, price_million_output::text AS pout`,
        [price.model, String(price.input), String(price.output)],
      );
      models.push({
        id: rows[0].id as string,
        name: price.model,
        inMicros: micros(rows[0].pin as string),
        outMicros: micros(rows[0].pout as string),
        weight: 1 / (index + 1),
      });
    }
    const secret = randomBytes(32);
    const { rows: clients } = await client.query(
      `INSERT INTO service_clients (name, prefix) VALUES ('seed-usage', 'ss-seed') RETURNING id`,
    );
    await client.query(
      'INSERT INTO service_client_secrets (secret_hash, service_client_id, prefix) VALUES ($1, $2, $3)',
      [secret, clients[0].id, 'ss-seed'],
    );
    const { rows: users } = await client.query(
      `WITH u AS (
         INSERT INTO users (credit_plan) SELECT 'prepaid' FROM generate_series(1, $1) RETURNING id
       ), c AS (
         INSERT INTO user_credits (user_id, paid) SELECT id, 1000 FROM u
       ), k AS (
         INSERT INTO api_keys (user_id, name, prefix, last4) SELECT id, 'seed-usage', 'sk-seed', '0000' FROM u
         RETURNING id, user_id
       ), h AS (
         INSERT INTO api_key_hashes (key_hash, api_key_id, prefix, last4)
         SELECT sha256(convert_to(gen_random_uuid()::text, 'UTF8')), id, 'sk-seed', '0000' FROM k
       )
       SELECT k.user_id AS id, k.id AS key_id FROM k`,
      [USERS],
    );
    const random = rng(42);
    const organizations = [];
    const memberships: number[][] = users.map(() => []);
    for (let i = 0; i < ORGANIZATIONS; i++) {
      const ownerIndex = Math.floor(random() * users.length);
      const { rows } = await client.query(
        `INSERT INTO organizations (name, owner_user_id) VALUES ($1, $2) RETURNING id`,
        [`Seed organization ${i + 1}`, users[ownerIndex].id],
      );
      organizations.push({ id: rows[0].id as string, ownerIndex });
      memberships[ownerIndex].push(i);
      const members = 1 + Math.floor(random() * 20);
      for (let m = 0; m < members; m++) {
        const memberIndex = Math.floor(random() * users.length);
        if (memberships[memberIndex].includes(i)) continue;
        await client.query(
          `INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'reader')
           ON CONFLICT DO NOTHING`,
          [rows[0].id, users[memberIndex].id],
        );
        memberships[memberIndex].push(i);
      }
    }
    await client.query('COMMIT');
    return {
      serviceClientId: clients[0].id as string,
      users: users.map((row) => ({ id: row.id as string, keyId: row.key_id as string })),
      organizations,
      memberships,
      models,
    };
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

async function copyEvents(
  pool: pg.Pool,
  fixtures: Fixtures,
  stream: number,
  count: number,
  onLoaded: (rows: number) => void,
): Promise<void> {
  if (count <= 0) return;
  const random = rng(1000 + stream);
  const now = Date.now();
  const span = DAYS * 86_400_000;
  const totalWeight = fixtures.models.reduce((sum, model) => sum + model.weight, 0);
  const pick = () => {
    let r = random() * totalWeight;
    for (const model of fixtures.models) if ((r -= model.weight) <= 0) return model;
    return fixtures.models[0];
  };
  function* lines(): Generator<string> {
    for (let produced = 0; produced < count; produced += BATCH) {
      const rows: string[] = [];
      for (let i = 0; i < Math.min(BATCH, count - produced); i++) {
        // Heavy users first: the square skews traffic toward low indexes.
        const userIndex = Math.floor(random() * random() * fixtures.users.length);
        const user = fixtures.users[userIndex];
        const orgs = fixtures.memberships[userIndex];
        const organization =
          orgs.length > 0 && random() < 0.5
            ? fixtures.organizations[orgs[Math.floor(random() * orgs.length)]]
            : null;
        const payer = organization ? fixtures.users[organization.ownerIndex].id : user.id;
        const model = pick();
        const input = 20 + Math.floor(random() * random() * 8000);
        const output = 5 + Math.floor(random() * 1500);
        const inputCost = cost(input, model.inMicros);
        const outputCost = cost(output, model.outMicros);
        const createdAt = new Date(now - Math.floor(random() * span)).toISOString();
        rows.push(
          [
            randomUUID(),
            user.keyId,
            user.id,
            payer,
            organization?.id ?? '\\N',
            fixtures.serviceClientId,
            model.id,
            model.name,
            input,
            output,
            decimal(model.inMicros * 1_000_000n),
            decimal(model.outMicros * 1_000_000n),
            decimal(inputCost),
            decimal(outputCost),
            decimal(inputCost + outputCost),
            createdAt,
          ].join('\t'),
        );
      }
      yield `${rows.join('\n')}\n`;
      onLoaded(rows.length);
    }
  }
  const client = await pool.connect();
  try {
    const copy = client.query(
      copyFrom(
        `COPY usage_events (id, api_key_id, user_id, payer_user_id, organization_id, service_client_id, model_id, model,
           input_tokens, output_tokens, price_million_input, price_million_output, input_cost, output_cost, total_cost,
           created_at) FROM STDIN`,
      ),
    );
    await pipeline(Readable.from(lines()), copy);
  } finally {
    client.release();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Seeding usage failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
