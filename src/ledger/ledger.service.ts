import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { AuthCache } from '../auth-cache/auth-cache.service.js';
import { INVALIDATION_CHANNEL, standingInvalidation } from '../auth-cache/invalidation.js';
import { Decimal } from '../common/decimal.js';
import { DomainError, type ErrorCode } from '../common/error-codes.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { sqlState } from '../database/pg-errors.js';
import { Metrics } from '../metrics/metrics.service.js';
import type { CreditPlan } from '../users/user.entity.js';
import { GroupCommit, type Outcome } from './group-commit.js';
import { EXPIRE_SQL, EXPIRING_SQL, LOCK_SQL } from './ledger-locks.sql.js';
import {
  CREATE_LOCKED_STATEMENTS_SQL,
  RECORD_USAGE,
  RESERVE,
  callSql,
  type LockedStatement,
} from './locked-statements.js';
import type { UsageCallRow } from './record-usage.sql.js';
import type { ReserveCallRow } from './reserve.sql.js';

/** A usage call as the ledger records it; `pos` is given by its batch. */
export type UsageCall = Omit<UsageCallRow, 'pos'>;

/** A reservation request; `pos` and `id` are given by the ledger. */
export type ReserveCall = Omit<ReserveCallRow, 'pos' | 'id'>;

export interface Reservation {
  id: string;
  amount: Decimal;
  expires_at: Date;
}

/** A granted reservation, and the payer's standing once it holds its amount. */
export interface ReserveResult {
  reservation: Reservation;
  credit: { plan: CreditPlan; remaining: Decimal | null };
}

/** The rows a batch charges, locked in this order (payers, organizations, keys) by id. */
interface LockSet {
  payers: string[];
  organizations: string[];
  keys: string[];
}

const DEADLOCK = '40P01';
const ATTEMPTS = 3;
const SWEEP_MS = 5000;
/** Expired reservations released per sweep transaction. */
const SWEEP_BATCH = 1000;

/** Errors that belong to one call's data (class 22: data exception, 23: integrity). */
function isCallError(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

/** What a charged row names: whom it bills. */
interface ChargedRow {
  payer_user_id: string;
  organization_id: string | null;
  api_key_id: string;
}

function lockSet(rows: ChargedRow[]): LockSet {
  const sorted = (values: (string | null)[]) =>
    [...new Set(values.filter((value): value is string => value !== null))].sort();
  return {
    payers: sorted(rows.map((row) => row.payer_user_id)),
    organizations: sorted(rows.map((row) => row.organization_id)),
    keys: sorted(rows.map((row) => row.api_key_id)),
  };
}

/**
 * The calls of a batch as the statement's rows, numbered by `pos`: a call whose key and
 * `request_id` an earlier call of the batch already has is left out (`rowOf` null), else
 * `rowOf` is its row.
 */
function firstPerRequest<C extends { api_key_id: string; request_id: string | null }, R>(
  calls: C[],
  toRow: (call: C, pos: number) => R,
): { rows: R[]; rowOf: (number | null)[] } {
  const seen = new Set<string>();
  const rows: R[] = [];
  const rowOf = calls.map((call) => {
    if (call.request_id !== null) {
      const key = `${call.api_key_id}\u0000${call.request_id}`;
      if (seen.has(key)) return null;
      seen.add(key);
    }
    rows.push(toRow(call, rows.length));
    return rows.length - 1;
  });
  return { rows, rowOf };
}

/**
 * The ledger: the one owner of money movements. Usage is recorded and charged, reservations
 * are held and released, each by group commit: concurrent calls are written together, one
 * transaction per batch, with the rows they charge locked in one fixed order (payers, then
 * organizations, then keys, each by id), so batches never deadlock with each other, and each
 * call's answer is what it would have been had the calls run one after another. The money
 * rules themselves are the fragments of `ledger-sql.ts`.
 */
@Injectable()
export class LedgerService
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(LedgerService.name);
  private readonly usage: GroupCommit<UsageCall, string | null>;
  private readonly reservations: GroupCommit<ReserveCall, ReserveResult>;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Connections that have the locked statements' session functions. */
  private readonly prepared = new WeakSet<pg.PoolClient>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: AuthCache,
    private readonly metrics: Metrics,
  ) {
    const { batchMax, batchesInFlight } = config.ledger;
    // A call waits for a batch no longer than a query waits for a pooled connection.
    const bound = {
      maxWaitMs: config.database.poolWaitMs,
      error: () => new DomainError('service_unavailable', undefined, { retryAfterSeconds: 1 }),
    };
    this.usage = new GroupCommit(
      (calls, sent) => this.measured('usage', calls, (c) => this.writeUsage(c, sent)),
      batchMax,
      batchesInFlight,
      bound,
    );
    this.reservations = new GroupCommit(
      (calls, sent) => this.measured('reserve', calls, (c) => this.writeReservations(c, sent)),
      batchMax,
      batchesInFlight,
      bound,
    );
  }

  onApplicationBootstrap(): void {
    // At least twice per reservation lifetime, so short lifetimes are honoured too.
    const every = Math.min(SWEEP_MS, (this.config.reservationTtlSeconds * 1000) / 2);
    this.sweepTimer = setInterval(() => void this.expireSafely(), every);
    this.sweepTimer.unref();
  }

  /** SIGTERM: the open batches are written before the database goes away. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.drain();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  async drain(): Promise<void> {
    await Promise.all([this.usage.drain(), this.reservations.drain()]);
  }

  /**
   * Records and charges one usage call. Answers its response text, or null when its
   * `request_id` was claimed before (by a committed call, or by an earlier one of its batch).
   */
  recordUsage(call: UsageCall): Promise<string | null> {
    return this.usage.submit(call);
  }

  /** Holds the largest cost of a call, or refuses with the code of the check that fails. */
  reserve(call: ReserveCall): Promise<ReserveResult> {
    return this.reservations.submit(call);
  }

  /** Releases what expired reservations still hold, in bounded transactions. */
  async expire(): Promise<number> {
    let released = 0;
    for (;;) {
      const count = await this.transaction(
        async (client) =>
          (await client.query<ChargedRow & { id: string }>(EXPIRING_SQL, [SWEEP_BATCH])).rows,
        async (client, expiring) => {
          if (expiring.length === 0) return 0;
          const { rows } = await client.query<{ expired: number }>(EXPIRE_SQL, [
            expiring.map((row) => row.id),
            INVALIDATION_CHANNEL,
          ]);
          return rows[0]?.expired ?? 0;
        },
      );
      released += count;
      if (count < SWEEP_BATCH) return released;
    }
  }

  private async expireSafely(): Promise<void> {
    try {
      await this.expire();
    } catch (error) {
      this.logger.warn(
        `Expired reservations not released: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async writeUsage(
    calls: UsageCall[],
    sent: () => void,
  ): Promise<Outcome<string | null>[]> {
    // The same request_id twice in a batch: the first is written, the others replay it.
    const { rows, rowOf } = firstPerRequest(calls, (call, pos): UsageCallRow => ({ ...call, pos }));

    const result = await this.locked<{ pos: number; body: string | null }>(
      RECORD_USAGE,
      rows,
      [JSON.stringify(rows), INVALIDATION_CHANNEL],
      sent,
    );
    const answers = new Map(result.map((row) => [row.pos, row.body]));
    return rowOf.map((pos) => {
      if (pos === null) return { value: null };
      if (!answers.has(pos)) return { error: new DomainError('model_not_found') };
      return { value: answers.get(pos) ?? null };
    });
  }

  private async writeReservations(
    calls: ReserveCall[],
    sent: () => void,
  ): Promise<Outcome<ReserveResult>[]> {
    // The same request_id twice in a batch: the first may reserve, the others are refused.
    const { rows, rowOf } = firstPerRequest(calls, (call, pos): ReserveCallRow => ({
      ...call,
      pos,
      id: randomUUID(),
    }));

    const result = await this.locked<{
      pos: number;
      refusal: ErrorCode | 'reservation_request_id_open' | null;
      amount: string;
      expires_at: Date | null;
      credit_plan: CreditPlan;
      remaining: string | null;
    }>(
      RESERVE,
      rows,
      [JSON.stringify(rows), this.config.reservationTtlSeconds, INVALIDATION_CHANNEL],
      sent,
    );
    const decisions = new Map(result.map((row) => [row.pos, row]));
    const openRequest = () =>
      new DomainError('conflict', 'An open reservation already has this request_id');
    return rowOf.map((pos) => {
      if (pos === null) return { error: openRequest() };
      const decision = decisions.get(pos);
      if (!decision) return { error: new DomainError('model_not_found') };
      if (decision.refusal === 'reservation_request_id_open') return { error: openRequest() };
      if (decision.refusal !== null) return { error: new DomainError(decision.refusal) };
      return {
        value: {
          reservation: {
            id: rows[pos].id,
            amount: new Decimal(decision.amount),
            expires_at: decision.expires_at!,
          },
          credit: { plan: decision.credit_plan, remaining: Decimal.of(decision.remaining) },
        },
      };
    });
  }

  /**
   * Writes a batch; when it fails for one call's data, writes each call alone, so that call
   * fails alone and the others still commit.
   */
  /** {@link isolated}, with the batch's size and commit latency in the metrics. */
  private async measured<I, O>(
    operation: 'usage' | 'reserve',
    items: I[],
    write: (items: I[]) => Promise<Outcome<O>[]>,
  ): Promise<Outcome<O>[]> {
    this.metrics.ledgerBatchSize.observe({ operation }, items.length);
    const end = this.metrics.ledgerCommitDuration.startTimer({ operation });
    try {
      const outcomes = await this.isolated(items, write);
      end({ result: 'committed' });
      return outcomes;
    } catch (error) {
      end({ result: 'failed' });
      throw error;
    }
  }

  private async isolated<I, O>(
    items: I[],
    write: (items: I[]) => Promise<Outcome<O>[]>,
  ): Promise<Outcome<O>[]> {
    try {
      return await write(items);
    } catch (error) {
      if (items.length === 1 || !isCallError(error)) throw error;
      const outcomes: Outcome<O>[] = [];
      for (const item of items) {
        outcomes.push(...(await write([item]).catch((single: unknown) => [{ error: single }])));
      }
      return outcomes;
    }
  }

  /**
   * One ledger statement on `charged`'s rows, as one call of its session function: the rows
   * are locked in the ledger's order, the statement runs with a snapshot taken after the
   * locks, and the call commits, in one round trip. Retried whole on a deadlock. `sent` is
   * called once the call has been written to the connection.
   */
  private locked<T>(
    statement: LockedStatement,
    charged: ChargedRow[],
    values: unknown[],
    sent: () => void,
  ): Promise<T[]> {
    const locks = lockSet(charged);
    return this.connected(async (client) => {
      if (!this.prepared.has(client)) {
        await client.query(CREATE_LOCKED_STATEMENTS_SQL);
        this.prepared.add(client);
      }
      const pending = client.query<T & pg.QueryResultRow>({
        name: statement.name,
        text: callSql(statement),
        values: [...values, locks.payers, locks.organizations, locks.keys],
      });
      sent();
      const { rows } = await pending;
      this.forget(locks);
      return rows;
    });
  }

  /**
   * One ledger transaction: `find` names the rows to charge, they are locked in the ledger's
   * order, and `run` reads them fresh (a statement that starts after the locks sees every
   * change committed before them). Retried whole on a deadlock.
   */
  private transaction<R extends ChargedRow, T>(
    find: (client: pg.PoolClient) => Promise<R[]>,
    run: (client: pg.PoolClient, found: R[]) => Promise<T>,
  ): Promise<T> {
    return this.connected(async (client, broken) => {
      await client.query('BEGIN');
      try {
        const found = await find(client);
        const locks = lockSet(found);
        await client.query({
          name: 'ledger_lock',
          text: LOCK_SQL,
          values: [locks.payers, locks.organizations, locks.keys],
        });
        const result = await run(client, found);
        await client.query('COMMIT');
        this.forget(locks);
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(broken);
        throw error;
      }
    });
  }

  /**
   * Runs `work` on a pooled connection, again on a deadlock (up to {@link ATTEMPTS} times).
   * `work` calls `broken` when the connection must not go back to the pool.
   */
  private async connected<T>(
    work: (client: pg.PoolClient, broken: (error: Error) => void) => Promise<T>,
  ): Promise<T> {
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      // A connection that dies while held (Postgres stopped) errors here, not in the pool.
      let broken: Error | undefined;
      const onError = (error: Error) => (broken = error);
      client.on('error', onError);
      try {
        return await work(client, onError);
      } catch (error) {
        if (sqlState(error) === DEADLOCK && attempt < ATTEMPTS) continue;
        throw error;
      } finally {
        client.off('error', onError);
        // A broken connection is closed, not handed to the next caller.
        client.release(broken);
      }
    }
  }

  private forget({ payers, organizations, keys }: LockSet): void {
    for (const id of payers) this.cache.apply(standingInvalidation('payer', id));
    for (const id of organizations) this.cache.apply(standingInvalidation('organization', id));
    for (const id of keys) this.cache.apply(standingInvalidation('key', id));
  }
}
