// `node bench/capacity.mjs`: the raw rates docs/scaling.md builds its capacity math on, measured
// on this machine: Postgres commits per second (one-row transactions, counted by
// pg_stat_database.xact_commit), rows per second by rows per transaction (multi-row INSERTs
// shaped like usage_events rows), and Redis script calls (EVALSHA of a tiny script) per second.
// Needs a Postgres server (CAPACITY_DATABASE_URL, default the machine's) and a Redis
// (REDIS_URL, default redis://127.0.0.1:6379). Short runs: CAPACITY_SECONDS each (default 3).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';

const DATABASE_URL =
  process.env.CAPACITY_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.CAPACITY_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.CAPACITY_CONNECTIONS ?? 4);
const BATCH_SIZES = [1, 4, 16, 64, 256];
const TABLE = `capacity_probe_${process.pid}`;

const lines = [];
const say = (line) => {
  lines.push(line);
  console.log(line);
};

/** Runs `work` on every connection in a loop for SECONDS; the calls made. */
async function forSeconds(clients, work) {
  const until = performance.now() + SECONDS * 1000;
  let calls = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < until) {
        await work(client);
        calls++;
      }
    }),
  );
  return calls;
}

async function postgres() {
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      return client;
    }),
  );
  const [first] = clients;
  // The shape of a usage_events row without its messages: ids, tokens, prices, costs.
  await first.query(`CREATE TABLE ${TABLE} (
    id uuid PRIMARY KEY, api_key_id uuid NOT NULL, payer_user_id uuid NOT NULL,
    model text NOT NULL, input_tokens int NOT NULL, output_tokens int NOT NULL,
    input_cost numeric NOT NULL, output_cost numeric NOT NULL, total_cost numeric NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())`);
  try {
    const commits = async () =>
      Number(
        (
          await first.query(
            'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()',
          )
        ).rows[0].xact_commit,
      );
    const key = randomUUID();
    const payer = randomUUID();
    const insert = (rows) => {
      const values = [];
      const params = [];
      for (let i = 0; i < rows; i++) {
        const o = params.length;
        values.push(`($${o + 1}, $${o + 2}, $${o + 3}, 'cogvlm-chat-17b', 100, 80, 0.5, 0.3, 0.8)`);
        params.push(randomUUID(), key, payer);
      }
      return {
        text: `INSERT INTO ${TABLE} (id, api_key_id, payer_user_id, model, input_tokens,
          output_tokens, input_cost, output_cost, total_cost) VALUES ${values.join(', ')}`,
        values: params,
      };
    };
    for (const rows of BATCH_SIZES) {
      const before = await commits();
      const started = performance.now();
      const calls = await forSeconds(clients, (client) => client.query(insert(rows)));
      const seconds = (performance.now() - started) / 1000;
      const committed = (await commits()) - before;
      say(
        `postgres: ${rows} row(s) per transaction, ${CONNECTIONS} connections: ` +
          `${Math.round(calls / seconds)} commits/s (xact_commit delta ${Math.round(committed / seconds)}/s), ` +
          `${Math.round((calls * rows) / seconds)} rows/s`,
      );
    }
  } finally {
    await first.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await Promise.all(clients.map((client) => client.end()));
  }
}

async function redis() {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  // A sliding-window-like step: one counter incremented with its expiry set, both keys returned.
  const script = `local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n`;
  const sha = await client.script('LOAD', script);
  const key = `capacity:${process.pid}`;
  try {
    for (const inFlight of [1, 50]) {
      const lanes = Array.from({ length: inFlight }, () => client);
      const started = performance.now();
      const calls = await forSeconds(lanes, (c) => c.evalsha(sha, 1, key, 60000));
      const seconds = (performance.now() - started) / 1000;
      say(
        `redis: EVALSHA of a 3-line script, ${inFlight} call(s) in flight on one connection: ` +
          `${Math.round(calls / seconds)} calls/s`,
      );
    }
  } finally {
    await client.del(key);
    client.disconnect();
  }
}

say(
  `${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} CPUs · ` +
    `load average ${os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')} · ${SECONDS} s per run`,
);
await postgres();
await redis();
