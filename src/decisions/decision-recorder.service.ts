import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyInstance } from 'fastify';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { registerDecisionSink, type GuardDecisionSink } from '../common/request-log.js';
import { DecisionCounts, utcHour, type DecisionCount } from './decision-counts.js';

/** Distinct (hour, route, status, decision) combinations kept while writes fail. */
export const MAX_PENDING_DECISIONS = 10_000;

/**
 * Adds a flush's counts to the hourly rows in one statement, row by row in the order given (so
 * every instance locks rows in the same order); a row another instance made meanwhile is added
 * to, never replaced.
 */
const UPSERT_SQL = `INSERT INTO guard_decisions_hourly AS d (hour, route, status, decision, count)
  SELECT u.hour, u.route, u.status, u.decision, u.count
  FROM unnest($1::timestamptz[], $2::text[], $3::smallint[], $4::text[], $5::bigint[])
    WITH ORDINALITY AS u(hour, route, status, decision, count, position)
  ORDER BY u.position
  ON CONFLICT (hour, route, status, decision) DO UPDATE SET count = d.count + EXCLUDED.count`;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Counts every answered guard call in memory, by UTC hour, route pattern, status and decision,
 * and adds the counts to `guard_decisions_hourly` every `DECISION_FLUSH_MS` and at shutdown.
 * The request path only increments a number. Counts are dropped from memory once their write
 * committed; a failed write keeps them for the next one (up to {@link MAX_PENDING_DECISIONS}
 * combinations). A process killed without a shutdown loses what it counted since its last
 * flush: these are telemetry, never money.
 */
@Injectable()
export class DecisionRecorder
  implements
    GuardDecisionSink,
    OnModuleInit,
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly logger = new Logger(DecisionRecorder.name);
  private readonly counts = new DecisionCounts(MAX_PENDING_DECISIONS);
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<boolean> | null = null;
  /** Writes failed in a row; the first of a run is logged, and the recovery. */
  private failures = 0;
  /** Dropping calls has been logged since the last successful write. */
  private droppingLogged = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // An application without HTTP (a CLI script's context) answers no guard calls.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify) registerDecisionSink(fastify, this);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // A write still running (a slow database) is not queued behind: the next tick takes all.
      if (!this.writing) void this.flush();
    }, this.config.decisionFlushMs);
    this.timer.unref();
  }

  /** SIGTERM: what was counted is written before the database goes away. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Calls answered while the HTTP server closed, and a last try after a failed write. */
  async onApplicationShutdown(): Promise<void> {
    if (this.counts.size > 0) await this.flush();
    if (this.counts.size > 0) {
      this.logger.warn(`${this.counts.size} guard decision count(s) not written at shutdown`);
    }
  }

  record(route: string, status: number, decision: string): void {
    if (!this.counts.add(utcHour(Date.now()), route, status, decision)) this.noteDropping();
  }

  /** Combinations counted and not yet written. */
  get pending(): number {
    return this.counts.size;
  }

  /**
   * Writes what is counted, after any write already running; answers whether it committed.
   * Never rejects: a failed write keeps its counts for the next one.
   */
  async flush(): Promise<boolean> {
    while (this.writing) await this.writing;
    this.writing = this.write().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private async write(): Promise<boolean> {
    const counts = this.counts.take();
    if (counts.length === 0) return true;
    try {
      await this.dataSource.query(UPSERT_SQL, columns(counts));
    } catch (error) {
      this.counts.restore(counts);
      if (this.counts.droppedCalls > 0) this.noteDropping();
      if (++this.failures === 1) {
        this.logger.warn(
          `Guard decision counts not written, ${counts.length} kept for the next flush: ${messageOf(error)}`,
        );
      }
      return false;
    }
    if (this.failures > 0) {
      this.logger.log(
        `Guard decision counts written again after ${this.failures} failed flush(es)`,
      );
      this.failures = 0;
    }
    const dropped = this.counts.takeDropped();
    if (dropped > 0) {
      this.logger.warn(
        `${dropped} guard decision(s) were dropped from the counts while writes failed`,
      );
    }
    this.droppingLogged = false;
    return true;
  }

  private noteDropping(): void {
    if (this.droppingLogged) return;
    this.droppingLogged = true;
    this.logger.warn(
      `${MAX_PENDING_DECISIONS} guard decision counts are waiting to be written: ` +
        'calls of new combinations are dropped from the counts until a write succeeds',
    );
  }
}

/** The upsert's parameters: one array per column. */
function columns(counts: DecisionCount[]): unknown[] {
  return [
    counts.map((c) => new Date(c.hour).toISOString()),
    counts.map((c) => c.route),
    counts.map((c) => c.status),
    counts.map((c) => c.decision),
    counts.map((c) => c.count),
  ];
}
