import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { INVALIDATION_CHANNEL, type CacheKind, type Invalidation } from './invalidation.js';

interface Entry {
  value: unknown;
  storedAt: number;
  /** Epoch ms after which the value is wrong by itself (an expiry it depends on), or Infinity. */
  validUntil: number;
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

/**
 * The guard's in-process cache of keys, secrets, organizations, memberships, models and payer
 * standing. Every change is announced with Postgres NOTIFY in the transaction that makes it;
 * each instance LISTENs and drops what went stale, and the instance that made the change
 * drops it at once. Without a LISTEN connection the cache is not trusted: lookups go to
 * Postgres until it is back, and then everything cached before is dropped.
 */
@Injectable()
export class AuthCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuthCache.name);
  private readonly stores = new Map<CacheKind, Map<string, Entry>>(
    KINDS.map((kind) => [kind, new Map()]),
  );
  private readonly generations = new Map<CacheKind, number>(KINDS.map((kind) => [kind, 0]));
  private listener: pg.Client | null = null;
  private connected = false;
  private closing = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Whether any legacy (checksum-less) key exists; unknown until first read. */
  private legacyKeys: boolean | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.authCache.enabled) await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => undefined);
  }

  /** True when entries may be used: enabled and listening for invalidations. */
  get trusted(): boolean {
    return this.config.authCache.enabled && this.connected;
  }

  /**
   * The cached value, or `load()`'s, stored unless an invalidation of its kind arrived while
   * it loaded (so a value read before a change never outlives the change).
   */
  async get<T>(
    kind: CacheKind,
    key: string,
    load: () => Promise<{ value: T; validUntil?: number }>,
  ): Promise<T> {
    const now = Date.now();
    const hit = this.trusted ? this.fresh(kind, key, now) : undefined;
    if (hit) return hit.value as T;
    const generation = this.generations.get(kind)!;
    const { value, validUntil = Infinity } = await load();
    if (this.trusted && this.generations.get(kind) === generation) {
      const store = this.stores.get(kind)!;
      if (store.size >= this.config.authCache.maxEntries) store.clear();
      store.set(key, { value, storedAt: now, validUntil });
    }
    return value;
  }

  /**
   * A cached value even while the cache is not trusted (entries are kept then, and dropped
   * when the channel is back), for answers that refuse and so cannot grant anything.
   */
  peek<T>(kind: CacheKind, key: string): T | undefined {
    // Neither the TTL nor validUntil applies: the answer can only differ between two refusals.
    return this.stores.get(kind)!.get(key)?.value as T | undefined;
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
      this.stores.get(kind)!.delete(invalidation.slice(colon + 1));
    }
  }

  private dropKind(kind: CacheKind): void {
    this.generations.set(kind, this.generations.get(kind)! + 1);
    this.stores.get(kind)!.clear();
  }

  private fresh(kind: CacheKind, key: string, now: number): Entry | undefined {
    const entry = this.stores.get(kind)!.get(key);
    if (!entry) return undefined;
    if (now >= entry.validUntil || now - entry.storedAt >= this.config.authCache.ttlMs) {
      this.stores.get(kind)!.delete(key);
      return undefined;
    }
    return entry;
  }

  private async connect(): Promise<void> {
    const options = this.dataSource.options as { url?: string };
    const client = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: this.config.database.connectTimeoutMs,
      application_name: 'swarms-guard-cache',
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.channel === INVALIDATION_CHANNEL && message.payload) {
        this.apply(message.payload as Invalidation);
      }
    });
    client.on('error', (error) => this.lost(client, error.message));
    client.on('end', () => this.lost(client, 'connection closed'));
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}`);
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
    this.connected = true;
    this.logger.log('Listening for cache invalidations');
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
    if (!this.reconnectTimer) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.closing) void this.connect();
      }, RECONNECT_MS);
      this.reconnectTimer.unref();
    }
  }
}
