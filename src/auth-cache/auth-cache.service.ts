import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { Metrics } from '../metrics/metrics.service.js';
import { INVALIDATION_CHANNEL, type CacheKind, type Invalidation } from './invalidation.js';

interface Entry {
  value: unknown;
  storedAt: number;
  /** Epoch ms after which the value is wrong by itself (an expiry it depends on), or Infinity. */
  validUntil: number;
}

/** A kind's two stores: what exists, and what was looked up and found not to exist. */
interface Stores {
  known: LRUCache<string, Entry>;
  unknown: LRUCache<string, Entry>;
}

const KINDS: CacheKind[] = [
  'secret',
  'key',
  'org',
  'member',
  'model',
  'payer',
  'keyspend',
  'orgspend',
];
const RECONNECT_MS = 500;
/** Heartbeats the channel may miss before it counts as deaf. */
const MISSED_HEARTBEATS = 3;
/** TCP keepalive probes on the channel start after this much silence. */
const KEEPALIVE_DELAY_MS = 5000;

export type CacheState = 'listening' | 'not_listening' | 'off';

/**
 * The guard's in-process cache of keys, secrets, organizations, memberships, models and payer
 * standing. Every change is announced with Postgres NOTIFY in the transaction that makes it;
 * each instance LISTENs and drops what went stale, and the instance that made the change
 * drops it at once. Without a LISTEN connection the cache is not trusted: lookups go to
 * Postgres until it is back, and then everything cached before is dropped. The connection
 * proves it still hears with a NOTIFY to itself every `heartbeatMs`; after three missed it
 * counts as lost, however quiet the network was about it.
 *
 * Each kind keeps at most `maxEntries` known values, least recently used out first, and
 * lookups that found nothing in a separate store of `negativeMaxEntries`: a flood of random
 * secrets evicts only other unknown values, never a key in use.
 */
@Injectable()
export class AuthCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuthCache.name);
  private readonly stores: Map<CacheKind, Stores>;
  private readonly generations = new Map<CacheKind, number>(KINDS.map((kind) => [kind, 0]));
  /** Each kind's hit counters, bound once: a hit is counted on every guard call. */
  private readonly countHit: Map<CacheKind, Record<'hit' | 'negative_hit', () => void>>;
  private listener: pg.Client | null = null;
  private connected = false;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** This instance's own heartbeat channel. */
  private readonly heartbeatChannel = `guard_heartbeat_${randomBytes(8).toString('hex')}`;
  /** Epoch ms of the last notification heard on the channel (a heartbeat or an invalidation). */
  private lastHeard = 0;
  /** Whether any legacy (checksum-less) key exists; unknown until first read. */
  private legacyKeys: boolean | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: Metrics,
  ) {
    const store = (kind: CacheKind, name: keyof Stores, max: number) =>
      new LRUCache<string, Entry>({
        max,
        dispose: (_value, _key, reason) => {
          if (reason === 'evict') metrics.cacheEvictions.inc({ kind, store: name });
        },
      });
    const { maxEntries, negativeMaxEntries } = config.authCache;
    this.countHit = new Map(
      KINDS.map((kind) => [
        kind,
        {
          hit: metrics.cacheLookups.bind({ kind, outcome: 'hit' }),
          negative_hit: metrics.cacheLookups.bind({ kind, outcome: 'negative_hit' }),
        },
      ]),
    );
    this.stores = new Map(
      KINDS.map((kind) => [
        kind,
        {
          known: store(kind, 'known', maxEntries),
          unknown: store(kind, 'unknown', negativeMaxEntries),
        },
      ]),
    );
    this.registerGauges();
  }

  async onModuleInit(): Promise<void> {
    if (this.config.authCache.enabled) await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    await this.listener?.end().catch(() => undefined);
  }

  /** True when entries may be used: enabled and listening for invalidations. */
  get trusted(): boolean {
    return this.config.authCache.enabled && this.connected;
  }

  get state(): CacheState {
    if (!this.config.authCache.enabled) return 'off';
    return this.connected ? 'listening' : 'not_listening';
  }

  /**
   * The cached value, or `load()`'s, stored unless an invalidation of its kind arrived while
   * it loaded (so a value read before a change never outlives the change). A null value is
   * "not found", kept in the kind's store of unknown values. A hit is returned as is, not
   * wrapped in a promise.
   */
  get<T>(
    kind: CacheKind,
    key: string,
    load: () => Promise<{ value: T; validUntil?: number }>,
  ): T | Promise<T> {
    const now = Date.now();
    if (this.trusted) {
      const hit = this.fresh(kind, key, now);
      if (hit) {
        this.countHit.get(kind)![hit.known ? 'hit' : 'negative_hit']();
        return hit.entry.value as T;
      }
    }
    return this.fill(kind, key, now, load);
  }

  /** A miss (or the cache bypassed): `load()`'s value, stored as {@link get} says. */
  private async fill<T>(
    kind: CacheKind,
    key: string,
    now: number,
    load: () => Promise<{ value: T; validUntil?: number }>,
  ): Promise<T> {
    this.metrics.cacheLookups.inc({ kind, outcome: this.trusted ? 'miss' : 'bypass' });
    const generation = this.generations.get(kind)!;
    const { value, validUntil = Infinity } = await load();
    if (this.trusted && this.generations.get(kind) === generation) {
      const stores = this.stores.get(kind)!;
      (value === null ? stores.unknown : stores.known).set(key, {
        value,
        storedAt: now,
        validUntil,
      });
    }
    return value;
  }

  /**
   * A cached value even while the cache is not trusted (entries are kept then, and dropped
   * when the channel is back), for answers that refuse and so cannot grant anything.
   */
  peek<T>(kind: CacheKind, key: string): T | undefined {
    // Neither the TTL nor validUntil applies: the answer can only differ between two refusals.
    const stores = this.stores.get(kind)!;
    return (stores.known.peek(key) ?? stores.unknown.peek(key))?.value as T | undefined;
  }

  /**
   * Whether any legacy (checksum-less) key exists. Remembered even while the cache is not
   * trusted: a stale "no" can only refuse a key, never let one in.
   */
  async hasLegacyKeys(): Promise<boolean> {
    if (this.legacyKeys !== null && this.config.authCache.enabled) return this.legacyKeys;
    const [row]: { exists: boolean }[] = await this.dataSource.query(
      'SELECT EXISTS (SELECT 1 FROM api_key_hashes WHERE legacy) AS exists',
    );
    this.legacyKeys ??= row.exists;
    return row.exists;
  }

  /** Drops what an invalidation names; called for local changes and for every NOTIFY. */
  apply(invalidation: Invalidation): void {
    if (invalidation === 'all') {
      for (const kind of KINDS) this.dropKind(kind);
      return;
    }
    if (invalidation === 'legacy') {
      this.legacyKeys = true;
      return;
    }
    const colon = invalidation.indexOf(':');
    const kind = (colon === -1 ? invalidation : invalidation.slice(0, colon)) as CacheKind;
    if (!this.stores.has(kind)) return;
    if (colon === -1) {
      this.dropKind(kind);
    } else {
      this.generations.set(kind, this.generations.get(kind)! + 1);
      const key = invalidation.slice(colon + 1);
      const stores = this.stores.get(kind)!;
      stores.known.delete(key);
      stores.unknown.delete(key);
    }
  }

  private dropKind(kind: CacheKind): void {
    this.generations.set(kind, this.generations.get(kind)! + 1);
    const stores = this.stores.get(kind)!;
    stores.known.clear();
    stores.unknown.clear();
  }

  private fresh(
    kind: CacheKind,
    key: string,
    now: number,
  ): { entry: Entry; known: boolean } | undefined {
    const stores = this.stores.get(kind)!;
    let known = true;
    let entry = stores.known.get(key);
    if (!entry) {
      known = false;
      entry = stores.unknown.get(key);
    }
    if (!entry) return undefined;
    if (now >= entry.validUntil || now - entry.storedAt >= this.config.authCache.ttlMs) {
      (known ? stores.known : stores.unknown).delete(key);
      return undefined;
    }
    return { entry, known };
  }

  private async connect(): Promise<void> {
    const options = this.dataSource.options as { url?: string };
    const client = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: this.config.database.connectTimeoutMs,
      application_name: 'swarms-guard-cache',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    });
    client.on('notification', (message) => {
      this.lastHeard = Date.now();
      if (message.channel === INVALIDATION_CHANNEL && message.payload) {
        this.apply(message.payload as Invalidation);
      }
    });
    client.on('error', (error) => this.lost(client, error.message));
    client.on('end', () => this.lost(client, 'connection closed'));
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}; LISTEN ${this.heartbeatChannel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.lost(client, error instanceof Error ? error.message : String(error));
      return;
    }
    this.listener = client;
    // Whatever was cached before may have missed invalidations.
    this.apply('all');
    this.legacyKeys = null;
    await this.hasLegacyKeys().catch(() => undefined);
    if (this.closing) {
      await client.end().catch(() => undefined);
      return;
    }
    this.connected = true;
    this.lastHeard = Date.now();
    this.startHeartbeat(client);
    this.logger.log('Listening for cache invalidations');
  }

  /**
   * Every `heartbeatMs`, a NOTIFY to this instance's own channel on the listening connection;
   * a connection that has heard nothing for three periods is dropped as deaf.
   */
  private startHeartbeat(client: pg.Client): void {
    this.stopHeartbeat();
    const every = this.config.authCache.heartbeatMs;
    this.heartbeatTimer = setInterval(() => {
      if (this.listener !== client) return;
      const silentMs = Date.now() - this.lastHeard;
      if (silentMs > MISSED_HEARTBEATS * every) {
        this.lost(client, `no heartbeat heard for ${Math.round(silentMs / 1000)} s`);
        // Its socket may never report anything: closed from this side, without waiting.
        (client as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
        void client.end().catch(() => undefined);
        return;
      }
      client.query(`NOTIFY ${this.heartbeatChannel}`).catch(() => undefined);
    }, every);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private registerGauges(): void {
    this.metrics.gauge(
      {
        name: 'guard_auth_cache_listening',
        help: '1 while the cache hears invalidations (its entries are used), else 0',
      },
      (set) => set(this.connected ? 1 : 0),
    );
    this.metrics.gauge(
      {
        name: 'guard_auth_cache_last_heartbeat_timestamp_seconds',
        help: 'When the invalidation channel last heard anything, in Unix seconds (0: never)',
      },
      (set) => set(this.lastHeard / 1000),
    );
    this.metrics.gauge(
      {
        name: 'guard_auth_cache_entries',
        help: 'Entries cached, by kind and store (known, unknown)',
        labelNames: ['kind', 'store'],
      },
      (set) => {
        for (const [kind, stores] of this.stores) {
          set(stores.known.size, { kind, store: 'known' });
          set(stores.unknown.size, { kind, store: 'unknown' });
        }
      },
    );
  }

  private lost(client: pg.Client, reason: string): void {
    if (this.closing || (this.listener !== null && this.listener !== client)) return;
    if (this.connected) {
      this.logger.warn(
        `Invalidation channel lost (${reason}); reading Postgres directly until it is back`,
      );
    }
    this.connected = false;
    this.listener = null;
    this.stopHeartbeat();
    if (!this.reconnectTimer) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.closing) void this.connect();
      }, RECONNECT_MS);
      this.reconnectTimer.unref();
    }
  }
}
