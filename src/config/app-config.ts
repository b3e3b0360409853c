import { isAbsolute, resolve } from 'node:path';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** pino's names for the two levels Nest calls otherwise. */
const LOG_LEVEL_ALIASES = { info: 'log', trace: 'verbose' } as const;

export interface DatabaseConfig {
  /** Postgres connection string; undefined means the embedded Postgres under `dataDir`. */
  url: string | undefined;
  poolSize: number;
  connectTimeoutMs: number;
  /**
   * Longest a query waits to get a connection from the pool (a busy one to free up, or a new
   * one to open); past it the request answers 503.
   */
  poolWaitMs: number;
  statementTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface LimitsConfig {
  /** Tokens per minute per API key; null: no such limit. */
  defaultTpmLimit: number | null;
  /** Requests and tokens per minute per user, over all their keys; null: no such limit. */
  defaultUserRpmLimit: number | null;
  defaultUserTpmLimit: number | null;
  /** Requests and tokens per minute per organization billed; null: no such limit. */
  defaultOrganizationRpmLimit: number | null;
  defaultOrganizationTpmLimit: number | null;
  /** Requests in flight per API key (auth to log-usage); null: no such limit. */
  defaultConcurrencyLimit: number | null;
  /** How long a concurrency lease lives when no log-usage ends it. */
  leaseTtlSeconds: number;
  /** With `REDIS_URL` unreachable: count locally (a share of each limit), or answer 503. */
  redisFailure: 'fail-open' | 'fail-closed';
  /** Instances sharing the limits: while Redis is down, each enforces limit ÷ this count. */
  instanceCount: number;
  /** Longest a limits command may take before the request goes on without Redis. */
  redisTimeoutMs: number;
  /** Prefix of every Redis key the limits write. */
  redisPrefix: string;
}

export interface AppConfig {
  production: boolean;
  host: string;
  port: number;
  dataDir: string;
  adminToken: string | undefined;
  logLevel: LogLevel;
  database: DatabaseConfig;
  defaultRpmLimit: number;
  limits: LimitsConfig;
  /** How long a reservation made by `/auth` holds credit when no usage settles it. */
  reservationTtlSeconds: number;
  ledger: {
    /** Most usage calls (and, separately, reservations) written in one transaction. */
    batchMax: number;
    /** Batches of each kind being written at once per process. */
    batchesInFlight: number;
  };
  authCache: {
    /** Off: every guard request reads Postgres (one statement), as a baseline. */
    enabled: boolean;
    /** Longest an entry is trusted without an invalidation, as a safety net. */
    ttlMs: number;
    /** Known values kept per kind (keys, secrets, organizations…), least recently used out. */
    maxEntries: number;
    /** Unknown values (a secret or key that matches nothing) kept per kind, apart. */
    negativeMaxEntries: number;
    /** How often the invalidation channel proves it still hears; deaf after three missed. */
    heartbeatMs: number;
  };
  /** Failed authentications per minute a calling service or client address may make. */
  authFailureLimit: number;
  /** Port of the Prometheus `/metrics` listener; 0 picks a free one, null is off. */
  metricsPort: number | null;
  /** Redis for limits shared by every instance (`REDIS_URL`); unset: counted in process. */
  redisUrl: string | undefined;
  /** Worker processes serving one port (`WEB_CONCURRENCY`). */
  webConcurrency: number;
  /** Largest JSON request body accepted, in bytes. */
  bodyLimitBytes: number;
  /**
   * What happens to `messages` sent with usage: `full` stores them when they fit in
   * `messagesMaxBytes` of JSON (else only their size), `truncate` stores at most that many bytes
   * of their JSON text, `none` stores only their size.
   */
  messageStorage: 'full' | 'truncate' | 'none';
  messagesMaxBytes: number;
  /**
   * On SIGTERM, how long in-flight requests and the shutdown itself may take before the
   * process exits anyway.
   */
  shutdownGraceMs: number;
  /** How often each instance adds its guard decision counts to Postgres (docs/decisions.md). */
  decisionFlushMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  /** An optional integer: unset (or `off`) is null. */
  optionalInt(name: string, min: number, max: number): number | null {
    const raw = this.string(name);
    if (raw === undefined || raw === 'off') return null;
    return this.int(name, min, min, max);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }
}

const PRODUCTION_ADMIN_TOKEN_MIN = 32;

/**
 * Tokens copied from an example instead of generated: the words examples use, or one character
 * (or one short run) repeated.
 */
function isPlaceholderToken(token: string): boolean {
  return (
    /change-?(me|it)|placeholder|example|replace-?me|your[-_]?(admin[-_]?)?(token|secret)|^(secret|password|token|admin)[-_]?\d*$/i.test(
      token,
    ) || /^(.{1,4})\1+$/.test(token)
  );
}

function logLevelOf(read: EnvReader): LogLevel {
  const aliases = Object.keys(LOG_LEVEL_ALIASES) as (keyof typeof LOG_LEVEL_ALIASES)[];
  const level = read.oneOf('LOG_LEVEL', [...LOG_LEVELS, ...aliases], 'log');
  return level in LOG_LEVEL_ALIASES
    ? LOG_LEVEL_ALIASES[level as keyof typeof LOG_LEVEL_ALIASES]
    : (level as LogLevel);
}

/**
 * Reads and validates the environment once. Every problem is reported together, by
 * variable name, so a bad deployment fails at boot with one readable message.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const production = env.NODE_ENV === 'production';

  const url = read.string('DATABASE_URL');
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    read.problems.push('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  }
  if (production && url === undefined) {
    read.problems.push('DATABASE_URL is required when NODE_ENV=production');
  }

  const adminToken = read.string('ADMIN_TOKEN');
  if (adminToken !== undefined) {
    const minimum = production ? PRODUCTION_ADMIN_TOKEN_MIN : 16;
    if (adminToken.length < minimum) {
      read.problems.push(
        `ADMIN_TOKEN must be at least ${minimum} characters long${production ? ' in production' : ''}`,
      );
    } else if (production && isPlaceholderToken(adminToken)) {
      read.problems.push(
        'ADMIN_TOKEN is a placeholder from an example; set a random secret (openssl rand -hex 24)',
      );
    }
  }

  const dataDir = read.string('DATA_DIR') ?? '.data';
  const connectTimeoutMs = read.int('DB_CONNECT_TIMEOUT_MS', 5000, 100, 120_000);
  const config: AppConfig = {
    production,
    host: read.string('HOST') ?? '0.0.0.0',
    port: read.int('PORT', 3000, 0, 65535),
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(process.cwd(), dataDir),
    adminToken,
    logLevel: logLevelOf(read),
    database: {
      url,
      poolSize: read.int('DB_POOL_SIZE', 4, 1, 100),
      connectTimeoutMs,
      poolWaitMs: read.int('DB_POOL_WAIT_MS', connectTimeoutMs, 10, 120_000),
      statementTimeoutMs: read.int('DB_STATEMENT_TIMEOUT_MS', 10_000, 100, 600_000),
      idleTimeoutMs: read.int('DB_IDLE_TIMEOUT_MS', 30_000, 1000, 3_600_000),
    },
    defaultRpmLimit: read.int('DEFAULT_RPM_LIMIT', 60, 1, 10_000_000),
    limits: {
      defaultTpmLimit: read.optionalInt('DEFAULT_TPM_LIMIT', 1, 2_000_000_000),
      defaultUserRpmLimit: read.optionalInt('DEFAULT_USER_RPM_LIMIT', 1, 10_000_000),
      defaultUserTpmLimit: read.optionalInt('DEFAULT_USER_TPM_LIMIT', 1, 2_000_000_000),
      defaultOrganizationRpmLimit: read.optionalInt('DEFAULT_ORG_RPM_LIMIT', 1, 10_000_000),
      defaultOrganizationTpmLimit: read.optionalInt('DEFAULT_ORG_TPM_LIMIT', 1, 2_000_000_000),
      defaultConcurrencyLimit: read.optionalInt('DEFAULT_CONCURRENCY_LIMIT', 1, 1_000_000),
      leaseTtlSeconds: read.int('LIMITS_LEASE_TTL_SECONDS', 600, 1, 86_400),
      redisFailure: read.oneOf(
        'LIMITS_REDIS_FAILURE',
        ['fail-open', 'fail-closed'] as const,
        'fail-open',
      ),
      instanceCount: read.int('LIMITS_INSTANCE_COUNT', 1, 1, 10_000),
      redisTimeoutMs: read.int('LIMITS_REDIS_TIMEOUT_MS', 100, 5, 10_000),
      redisPrefix: read.string('LIMITS_REDIS_PREFIX') ?? 'guard:limits:',
    },
    reservationTtlSeconds: read.int('RESERVATION_TTL_SECONDS', 600, 1, 86_400),
    ledger: {
      batchMax: read.int('LEDGER_BATCH_MAX', 256, 1, 5000),
      batchesInFlight: read.int('LEDGER_BATCHES_IN_FLIGHT', 1, 1, 16),
    },
    authCache: {
      enabled: read.oneOf('AUTH_CACHE', ['on', 'off'] as const, 'on') === 'on',
      ttlMs: read.int('AUTH_CACHE_TTL_MS', 60_000, 100, 3_600_000),
      maxEntries: read.int('AUTH_CACHE_MAX_ENTRIES', 100_000, 100, 10_000_000),
      negativeMaxEntries: read.int('AUTH_CACHE_NEGATIVE_MAX_ENTRIES', 10_000, 10, 1_000_000),
      heartbeatMs: read.int('AUTH_CACHE_HEARTBEAT_MS', 3000, 100, 60_000),
    },
    authFailureLimit: read.int('AUTH_FAILURE_LIMIT', 120, 1, 10_000_000),
    metricsPort:
      read.string('METRICS_PORT') === 'off' ? null : read.int('METRICS_PORT', 9464, 0, 65535),
    redisUrl: read.string('REDIS_URL'),
    webConcurrency: read.int('WEB_CONCURRENCY', 1, 1, 256),
    bodyLimitBytes: read.int('BODY_LIMIT_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    messageStorage: read.oneOf('MESSAGE_STORAGE', ['full', 'truncate', 'none'] as const, 'full'),
    messagesMaxBytes: read.int('MESSAGES_MAX_BYTES', 256 * 1024, 0, 64 * 1024 * 1024),
    shutdownGraceMs: read.int('SHUTDOWN_GRACE_MS', 8000, 0, 600_000),
    decisionFlushMs: read.int('DECISION_FLUSH_MS', 5000, 10, 3_600_000),
  };

  if (config.redisUrl !== undefined && !/^rediss?:\/\//.test(config.redisUrl)) {
    read.problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (config.webConcurrency > 1 && config.redisUrl === undefined) {
    read.problems.push(
      `WEB_CONCURRENCY=${config.webConcurrency} needs REDIS_URL: without it each worker would ` +
        'count rate limits on its own, multiplying every limit by the number of workers',
    );
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}
