// What the benchmark checks in Postgres after a scenario: the rows its answers promise, nothing
// more, and exact money. Used by bench/run.mjs; the method is in bench/README.md.
//
// Every request of a checked scenario carries a tag of its own (`<run>-<n>`), which the service
// stores: in `messages` (the user message's `name`) for log-usage, as the reservation's
// `request_id` for auth. A tally per load run records how many requests were sent and, per tag,
// what the answer was, so a row can be traced to the request that wrote it.
import { setTimeout as sleep } from 'node:timers/promises';

/** A load run's record: `sent` requests tagged `${prefix}-0` … `${prefix}-${sent - 1}`. */
export function newTally(prefix) {
  // answers: tag → the id the 2xx answer named (null for any other answer, or a 2xx without one)
  return { prefix, sent: 0, answers: new Map() };
}

/** The answers of several runs, and whether a tag was sent by one of them. */
function combine(tallies) {
  const responded = new Map();
  for (const tally of tallies) for (const [tag, id] of tally.answers) responded.set(tag, id);
  const answered = new Map(); // id → tag, 2xx answers only
  for (const [tag, id] of responded) if (id) answered.set(id, tag);
  const sent = tallies.reduce((sum, tally) => sum + tally.sent, 0);
  const wasSent = (tag) =>
    tallies.some((tally) => {
      if (!tag.startsWith(`${tally.prefix}-`)) return false;
      const n = tag.slice(tally.prefix.length + 1);
      return /^\d+$/.test(n) && Number(n) < tally.sent;
    });
  return { responded, answered, sent, unanswered: sent - responded.size, wasSent };
}

/** The database's clock, as text: a marker rows are selected after (microseconds kept). */
export async function databaseNow(db) {
  const { rows } = await db.query(`SELECT now()::text AS now`);
  return rows[0].now;
}

/**
 * Waits until `count()` stops moving: requests still in the server when a run ends (at most one
 * per connection) commit after it.
 */
export async function settle(count) {
  let last = await count();
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const next = await count();
    if (next === last) return next;
    last = next;
  }
  return last;
}

export function usageRowCount(db, keyIds, since) {
  return db
    .query(
      `SELECT count(*)::int AS n FROM usage_events
       WHERE api_key_id = ANY($1::uuid[]) AND created_at >= $2::timestamptz`,
      [keyIds, since],
    )
    .then(({ rows }) => rows[0].n);
}

export function reservationRowCount(db, keyIds, since) {
  return db
    .query(
      `SELECT count(*)::int AS n FROM reservations
       WHERE api_key_id = ANY($1::uuid[]) AND created_at >= $2::timestamptz`,
      [keyIds, since],
    )
    .then(({ rows }) => rows[0].n);
}

/**
 * After a log-usage scenario (its warm-up and measured run): every 2xx answer's `id` is exactly
 * one `usage_events` row, of the request that got the answer; any other row of these keys since
 * `since` is one of a request that was sent and never answered; each payer's debit (its balance
 * before the benchmark minus its balance now) equals the sum of its events' `total_cost`, compared
 * as numeric in Postgres. Also the rows per writing transaction (`xmin`) of the measured run.
 */
export async function checkUsage(db, { keyIds, payers, since, measuredSince, tallies }) {
  const { responded, answered, unanswered, wasSent } = combine(tallies);
  const { rows } = await db.query(
    `SELECT id::text AS id, messages->1->>'name' AS tag, xmin::text AS tx,
       created_at >= $3::timestamptz AS measured
     FROM usage_events WHERE api_key_id = ANY($1::uuid[]) AND created_at >= $2::timestamptz`,
    [keyIds, since, measuredSince],
  );
  const problems = [];
  const problem = (text) => problems.length < 10 && problems.push(text);
  const rowsById = new Map();
  const tagsSeen = new Set();
  let inFlight = 0;
  let untagged = 0;
  for (const row of rows) {
    rowsById.set(row.id, (rowsById.get(row.id) ?? 0) + 1);
    if (row.tag !== null) {
      if (tagsSeen.has(row.tag)) problem(`a second row for request ${row.tag} (id ${row.id})`);
      tagsSeen.add(row.tag);
    }
    const answeredTag = answered.get(row.id);
    if (answeredTag !== undefined) {
      if (row.tag !== null && row.tag !== answeredTag) {
        problem(`the answer to ${answeredTag} named row ${row.id}, which is request ${row.tag}'s`);
      }
    } else if (row.tag === null) {
      untagged++;
    } else if (!wasSent(row.tag)) {
      problem(`row ${row.id} carries tag ${row.tag}, which no request of this scenario had`);
    } else if (responded.has(row.tag)) {
      const id = responded.get(row.tag);
      problem(
        id
          ? `row ${row.id} for request ${row.tag}, whose answer named ${id}`
          : `row ${row.id} for request ${row.tag}, which was answered with a non-2xx`,
      );
    } else {
      inFlight++;
    }
  }
  for (const [id, n] of rowsById) if (n > 1) problem(`id ${id} has ${n} rows`);
  let missing = 0;
  for (const [id, tag] of answered) {
    if (!rowsById.has(id)) {
      missing++;
      problem(`the answer to ${tag} named ${id}, which has no row`);
    }
  }
  if (inFlight + untagged > unanswered) {
    problem(
      `${inFlight + untagged} rows match no 2xx answer, but only ${unanswered} requests went unanswered`,
    );
  }

  const debits = await payerDebits(db, payers);
  for (const d of debits.filter((d) => !d.ok)) {
    problem(`payer ${d.user_id}: debit ${d.debit} ≠ Σ total_cost ${d.events}`);
  }
  return {
    ok: problems.length === 0,
    problems,
    rows: rows.length,
    answered: answered.size,
    inFlight,
    untagged,
    unanswered,
    missing,
    payers: debits.length,
    batches: batchSizes(rows.filter((row) => row.measured)),
  };
}

/** Per payer: its balance before the benchmark minus now, against the sum of its events' cost. */
async function payerDebits(db, payers) {
  const { rows } = await db.query(
    `SELECT p.user_id::text AS user_id, (p.start - (c.paid + c.free))::text AS debit,
       COALESCE(e.total, 0)::text AS events, p.start - (c.paid + c.free) = COALESCE(e.total, 0) AS ok
     FROM unnest($1::uuid[], $2::numeric[]) AS p (user_id, start)
     LEFT JOIN user_credits c ON c.user_id = p.user_id
     LEFT JOIN LATERAL (
       SELECT sum(total_cost) AS total FROM usage_events WHERE payer_user_id = p.user_id
     ) e ON true`,
    [payers.map((p) => p.userId), payers.map((p) => p.startBalance)],
  );
  // A missing user_credits row makes the comparison NULL: not ok.
  return rows.map((row) => ({ ...row, ok: row.ok === true }));
}

/** Rows per writing transaction: mean, p50, p95, max and the number of transactions. */
function batchSizes(rows) {
  const perTransaction = new Map();
  for (const row of rows) perTransaction.set(row.tx, (perTransaction.get(row.tx) ?? 0) + 1);
  const sizes = [...perTransaction.values()].sort((a, b) => a - b);
  const rank = (p) => sizes[Math.max(0, Math.ceil(p * sizes.length) - 1)] ?? 0;
  return {
    rows: rows.length,
    transactions: sizes.length,
    mean: sizes.length > 0 ? rows.length / sizes.length : 0,
    p50: rank(0.5),
    p95: rank(0.95),
    max: sizes.at(-1) ?? 0,
  };
}

/**
 * After an auth-with-`max_tokens` scenario: every 200 answer's `reservation.id` is exactly one
 * open reservation, made for the request that got the answer (its `request_id` is the tag); any
 * other reservation of the key since `since` is one of a request sent and never answered; and
 * the payer's `user_credits.reserved` (and the key's `api_keys.reserved`) equals the sum of the
 * amounts of its open reservations, compared as numeric in Postgres.
 */
export async function checkReservations(db, { keyId, payer, since, tallies }) {
  const { responded, answered, unanswered, wasSent } = combine(tallies);
  const { rows } = await db.query(
    `SELECT id::text AS id, request_id AS tag, settled_at IS NULL AS open
     FROM reservations WHERE api_key_id = $1 AND created_at >= $2::timestamptz`,
    [keyId, since],
  );
  const problems = [];
  const problem = (text) => problems.length < 10 && problems.push(text);
  const rowsById = new Map(rows.map((row) => [row.id, row]));
  const tagsSeen = new Set();
  let inFlight = 0;
  for (const row of rows) {
    if (row.tag !== null && tagsSeen.has(row.tag)) {
      problem(`a second reservation for request ${row.tag} (${row.id})`);
    }
    tagsSeen.add(row.tag);
    const answeredTag = answered.get(row.id);
    if (answeredTag !== undefined) {
      if (row.tag !== answeredTag) {
        problem(`the answer to ${answeredTag} named reservation ${row.id}, of request ${row.tag}`);
      }
      if (!row.open) problem(`reservation ${row.id} (request ${row.tag}) is no longer open`);
    } else if (row.tag === null || !wasSent(row.tag)) {
      problem(`reservation ${row.id} has request_id ${row.tag}, which no request here had`);
    } else if (responded.has(row.tag)) {
      problem(`reservation ${row.id} for request ${row.tag}, whose answer did not name it`);
    } else {
      inFlight++;
    }
  }
  let missing = 0;
  for (const [id, tag] of answered) {
    if (!rowsById.has(id)) {
      missing++;
      problem(`the answer to ${tag} named reservation ${id}, which has no row`);
    }
  }
  if (inFlight > unanswered) {
    problem(`${inFlight} reservations match no answer, but only ${unanswered} went unanswered`);
  }

  const {
    rows: [held],
  } = await db.query(
    `SELECT c.reserved::text AS payer_reserved, k.reserved::text AS key_reserved,
       open.total::text AS open_total, open.n,
       c.reserved = open.total AS payer_ok, k.reserved = open.total AS key_ok
     FROM user_credits c, api_keys k,
       LATERAL (SELECT COALESCE(sum(amount), 0) AS total, count(*)::int AS n FROM reservations
                WHERE payer_user_id = $1 AND settled_at IS NULL) open
     WHERE c.user_id = $1 AND k.id = $2`,
    [payer.userId, keyId],
  );
  if (!held) problem(`no user_credits row for payer ${payer.userId}`);
  else {
    if (held.payer_ok !== true) {
      problem(`user_credits.reserved ${held.payer_reserved} ≠ Σ open amounts ${held.open_total}`);
    }
    if (held.key_ok !== true) {
      problem(`api_keys.reserved ${held.key_reserved} ≠ Σ open amounts ${held.open_total}`);
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    rows: rows.length,
    answered: answered.size,
    inFlight,
    unanswered,
    missing,
    open: held?.n ?? 0,
    reserved: held?.payer_reserved ?? '?',
  };
}
