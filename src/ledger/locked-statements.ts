import { lockList } from './ledger-locks.sql.js';
import { RECORD_USAGE_SQL } from './record-usage.sql.js';
import { RESERVE_SQL } from './reserve.sql.js';

/**
 * A ledger statement that runs as one call of a session function: the function locks the rows
 * the statement charges (in the ledger's order) and then runs it, with a fresh snapshot, so
 * the statement sees every change committed before the locks were granted. Called outside an
 * explicit transaction, the call is its own transaction: lock, statement and commit are one
 * round trip, and the rows stay locked only while Postgres works, never while a reply waits
 * for this process's event loop.
 *
 * The functions are temporary (`pg_temp`), created on each connection from the statements
 * below the first time it runs one: their text is the TypeScript's, so instances of different
 * versions never share (or fight over) a function, and no migration copies the money rules.
 */
export interface LockedStatement {
  /** The function's name in `pg_temp` (and the call's prepared-statement name). */
  name: string;
  /** The types of the statement's parameters `$1…$n`; the lock's three uuid[] follow. */
  params: string[];
  /** The statement's result columns, as a column definition list. */
  columns: string;
  statement: string;
}

export const RECORD_USAGE: LockedStatement = {
  name: 'ledger_record_usage',
  params: ['jsonb', 'text'],
  columns: 'pos int, body text, notified bigint',
  statement: RECORD_USAGE_SQL,
};

export const RESERVE: LockedStatement = {
  name: 'ledger_reserve',
  params: ['jsonb', 'double precision', 'text'],
  columns: `pos int, refusal text, amount text, expires_at timestamptz, credit_plan text,
    remaining text, notified bigint`,
  statement: RESERVE_SQL,
};

const LOCKED_STATEMENTS = [RECORD_USAGE, RESERVE];

function placeholders(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `$${from + index}`);
}

function createFunction({ name, params, statement }: LockedStatement): string {
  const [payers, organizations, keys] = placeholders(params.length + 1, 3);
  return `CREATE OR REPLACE FUNCTION pg_temp.${name}(${[...params, 'uuid[]', 'uuid[]', 'uuid[]'].join(', ')})
RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $ledger$
BEGIN
  PERFORM ${lockList(payers, organizations, keys)};
  RETURN QUERY ${statement};
END
$ledger$`;
}

/** Creates every locked statement's function on one connection (one round trip). */
export const CREATE_LOCKED_STATEMENTS_SQL = LOCKED_STATEMENTS.map(createFunction).join(';\n');

/** The call of a locked statement: its parameters, then payers, organizations and keys. */
export function callSql({ name, params, columns }: LockedStatement): string {
  const args = placeholders(1, params.length + 3).join(', ');
  return `SELECT * FROM pg_temp.${name}(${args}) AS t(${columns})`;
}
