import { Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/** Latency buckets in seconds, from a cached auth (sub-millisecond) to a timed-out statement. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * A Prometheus counter for the request path: increments are summed in plain numbers per label
 * set and handed to prom-client's counter when the registry is read (its `collect`), so a
 * request pays one Map lookup per increment instead of prom-client's label validation and
 * hashing. What a scrape shows is exact: everything counted before it.
 */
export class BufferedCounter<L extends string> {
  private readonly cells = new Map<string, { labels: Partial<Record<L, string>>; count: number }>();
  private readonly labelNames: readonly L[];

  constructor(config: Omit<CounterConfiguration<L>, 'registers' | 'collect'>, registry: Registry) {
    const cells = this.cells;
    this.labelNames = config.labelNames ?? [];
    new Counter<L>({
      ...config,
      registers: [registry],
      collect() {
        for (const cell of cells.values()) {
          if (cell.count === 0) continue;
          this.inc(cell.labels, cell.count);
          cell.count = 0;
        }
      },
    });
  }

  inc(labels: Partial<Record<L, string>> = {}, by = 1): void {
    this.cell(labels).count += by;
  }

  /** An incrementer for one fixed label set, for a path that counts it on every call. */
  bind(labels: Partial<Record<L, string>>): () => void {
    const cell = this.cell(labels);
    return () => void cell.count++;
  }

  private cell(labels: Partial<Record<L, string>>): { count: number } {
    let key = '';
    for (const name of this.labelNames) key += `${labels[name] ?? ''}\u0000`;
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = { labels: { ...labels }, count: 0 }));
    return cell;
  }
}

export type CacheOutcome = 'hit' | 'miss' | 'negative_hit' | 'bypass';
export type LimiterOutcome = 'allowed' | 'refused' | 'shadow_refused';

/**
 * Every Prometheus metric the service exports, on a registry of its own (one per application,
 * so tests can run several in a process). Names follow Prometheus conventions: base units
 * (`_seconds`), `_total` for counters. Served by {@link MetricsServer}, never on the API port.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = this.counter({
    name: 'guard_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
  });
  readonly httpDuration = this.histogram({
    name: 'guard_http_request_duration_seconds',
    help: 'Time from receiving a request to its answer being sent, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
  });
  readonly guardDecisions = this.counter({
    name: 'guard_decisions_total',
    help: 'Guard answers by route and decision: ok, or the error code the call was refused with',
    labelNames: ['route', 'decision'],
  });
  readonly ledgerBatchSize = this.histogram({
    name: 'guard_ledger_batch_size',
    help: 'Calls written per ledger transaction, by operation (usage, reserve)',
    labelNames: ['operation'],
    buckets: BATCH_SIZE_BUCKETS,
  });
  readonly ledgerCommitDuration = this.histogram({
    name: 'guard_ledger_commit_duration_seconds',
    help: 'Time to write and commit one ledger batch, by operation and result (committed, failed)',
    labelNames: ['operation', 'result'],
    buckets: LATENCY_BUCKETS,
  });
  readonly cacheLookups = this.counter({
    name: 'guard_auth_cache_lookups_total',
    help: 'Guard cache lookups by kind and outcome (hit, miss, negative_hit, bypass while untrusted)',
    labelNames: ['kind', 'outcome'],
  });
  readonly cacheEvictions = this.counter({
    name: 'guard_auth_cache_evictions_total',
    help: 'Entries evicted as least recently used, by kind and store (known, unknown)',
    labelNames: ['kind', 'store'],
  });
  readonly limiter = this.counter({
    name: 'guard_limiter_decisions_total',
    help:
      'Limiter outcomes by limiter (requests_per_minute, tokens_per_minute, concurrency, ' +
      'failed_auth) and outcome (allowed, refused, shadow_refused: over a limit in shadow mode)',
    labelNames: ['limiter', 'outcome'],
  });
  readonly limitsRedisOutages = this.counter({
    name: 'guard_limits_redis_outages_total',
    help: 'Times the Redis of the limits became unreachable',
  });
  readonly limitsFallbacks = this.counter({
    name: 'guard_limits_redis_fallbacks_total',
    help:
      'Limit checks made without Redis while it was unreachable, by policy (fail-open: counted ' +
      'locally on a share of each limit; fail-closed: auth answered 503)',
    labelNames: ['policy'],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A gauge whose value is read when scraped. */
  gauge(
    config: Omit<GaugeConfiguration<string>, 'registers' | 'collect'>,
    read: (set: (value: number, labels?: Record<string, string>) => void) => void,
  ): void {
    const gauge: Gauge<string> = new Gauge({
      ...config,
      registers: [this.registry],
      collect() {
        gauge.reset();
        read((value, labels) => (labels ? gauge.set(labels, value) : gauge.set(value)));
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  private counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>) {
    return new BufferedCounter<L>(config, this.registry);
  }

  private histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>) {
    return new Histogram<L>({ ...config, registers: [this.registry] });
  }
}
