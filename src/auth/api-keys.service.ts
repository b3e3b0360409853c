import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdminActor } from '../audit/admin-actor.js';
import { AdminChanges } from '../audit/admin-changes.service.js';
import { hashSecret } from '../common/crypto.js';
import { endCurrentSecrets } from '../common/secret-rotation.js';
import { Decimal, numericParam } from '../common/decimal.js';
import { DomainError, NotFound, ValidationFailed } from '../common/error-codes.js';
import { decodeCursor, encodeCursor } from '../common/keyset.js';
import { isUniqueViolation } from '../database/pg-errors.js';
import type {
  ApiKeyPageDto,
  ApiKeyResponseDto,
  CreatedApiKeyResponseDto,
} from './dto/api-key-response.dto.js';
import type {
  ApiKeySettingsDto,
  CreateApiKeyDto,
  ImportApiKeyDto,
  RotateApiKeyDto,
  UpdateApiKeyDto,
} from './dto/create-api-key.dto.js';
import type { ListApiKeysQueryDto } from './dto/list-api-keys.query.dto.js';
import { UTC_MONTH } from '../ledger/ledger-sql.js';
import { displayParts, generateApiKey, isPossibleLegacyKey } from './secrets.js';

const METADATA_MAX_BYTES = 8192;

const KEY_COLUMNS = `k.id, k.user_id, k.name, k.prefix, k.last4,
  EXISTS (SELECT 1 FROM api_key_hashes h WHERE h.api_key_id = k.id AND h.legacy AND h.valid_until IS NULL) AS legacy,
  k.limit_credit_dollar::text, k.spend_period, k.spent_dollar::text,
  COALESCE((SELECT amount FROM api_key_monthly_spend s
            WHERE s.api_key_id = k.id AND s.month = ${UTC_MONTH}), 0)::text
    AS spent_this_month,
  k.allowed_models, k.rpm_limit, k.tpm_limit, k.concurrency_limit, k.limits_mode, k.metadata, k.expires_at, k.revoked_at, k.rotated_at,
  (SELECT max(h.valid_until) FROM api_key_hashes h
   WHERE h.api_key_id = k.id AND h.valid_until > now()) AS previous_key_valid_until,
  k.last_used_at, k.created_at, k.updated_at`;

const KEY_SELECT = `SELECT ${KEY_COLUMNS} FROM api_keys k`;

type KeyRow = Omit<
  ApiKeyResponseDto,
  'limit_credit_dollar' | 'spent_dollar' | 'spent_this_month'
> & {
  limit_credit_dollar: string | null;
  spent_dollar: string;
  spent_this_month: string;
};

/**
 * API keys: issue, import, read, update, rotate, revoke. Every change is one transaction with
 * its audit row and a cache invalidation, so it holds on every instance within a second.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly changes: AdminChanges,
  ) {}

  create(actor: AdminActor, dto: CreateApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    return this.insert(actor, dto, generateApiKey(), false);
  }

  /** A key of the old platform, kept working as it is (hashed, flagged legacy). */
  import(actor: AdminActor, dto: ImportApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    if (!isPossibleLegacyKey(dto.key)) {
      throw new ValidationFailed([
        { field: 'key', message: 'must be sk- followed by 8 to 250 printable characters' },
      ]);
    }
    const { key, ...settings } = dto;
    return this.insert(actor, settings, key, true);
  }

  /**
   * Keys not deleted, oldest first, by keyset on (created_at, id): pages stay stable while keys
   * are added, and a key deleted meanwhile only drops out.
   */
  async list(query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const limit = query.limit ?? 100;
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows: (KeyRow & { created_at_text: string })[] = await this.dataSource.query(
      `SELECT ${KEY_COLUMNS}, k.created_at::text AS created_at_text FROM api_keys k
       WHERE k.deleted_at IS NULL AND ($1::uuid IS NULL OR k.user_id = $1)
         AND ($2::timestamptz IS NULL OR (k.created_at, k.id) > ($2::timestamptz, $3::uuid))
       ORDER BY k.created_at, k.id LIMIT $4`,
      [query.user_id ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(({ created_at_text: _cursor, ...row }) => toResponse(row)),
      next_cursor: rows.length > limit ? encodeCursor(last.created_at_text, last.id) : null,
    };
  }

  get(id: string, manager: EntityManager = this.dataSource.manager): Promise<ApiKeyResponseDto> {
    return this.find(manager, id);
  }

  update(actor: AdminActor, id: string, dto: UpdateApiKeyDto): Promise<ApiKeyResponseDto> {
    this.checkSettings(dto);
    return this.changes.run(actor, async (change) => {
      const before = await this.find(change.manager, id, true);
      const assignments: string[] = [];
      const params: unknown[] = [id];
      const set = (column: string, value: unknown, cast = '') => {
        params.push(value);
        assignments.push(`${column} = $${params.length}${cast}`);
      };
      if (dto.name !== undefined) set('name', dto.name);
      if (dto.limit_credit_dollar !== undefined)
        set('limit_credit_dollar', numericParam(dto.limit_credit_dollar), '::numeric');
      if (dto.spend_period !== undefined) set('spend_period', dto.spend_period);
      if (dto.allowed_models !== undefined) set('allowed_models', dto.allowed_models);
      if (dto.expires_at !== undefined) set('expires_at', dto.expires_at, '::timestamptz');
      if (dto.rpm_limit !== undefined) set('rpm_limit', dto.rpm_limit);
      if (dto.tpm_limit !== undefined) set('tpm_limit', dto.tpm_limit);
      if (dto.concurrency_limit !== undefined) set('concurrency_limit', dto.concurrency_limit);
      if (dto.limits_mode !== undefined) set('limits_mode', dto.limits_mode);
      if (dto.metadata !== undefined) set('metadata', JSON.stringify(dto.metadata), '::jsonb');
      if (assignments.length > 0) {
        await change.manager.query(
          `UPDATE api_keys SET ${assignments.join(', ')}, updated_at = now() WHERE id = $1`,
          params,
        );
      }
      const after = await this.find(change.manager, id);
      await change.audit({
        action: 'api_key.update',
        targetType: 'api_key',
        targetId: id,
        before,
        after,
      });
      await change.invalidate('key', 'keyspend');
      return after;
    });
  }

  /**
   * A new secret for the same key: every setting, the spend and the usage history stay with
   * it. The current secret keeps working for `grace_seconds`, then answers 401
   * `api_key_revoked`. The key row is locked, so concurrent rotations and revocations
   * serialise, and the database allows one current secret per key.
   */
  rotate(actor: AdminActor, id: string, dto: RotateApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    return this.changes.run(actor, async (change) => {
      const before = await this.find(change.manager, id, true);
      await endCurrentSecrets(change.manager, 'api_key_hashes', id, dto.grace_seconds ?? 0);
      const key = generateApiKey();
      await this.addHash(change.manager, id, key, false);
      await change.manager.query(
        `UPDATE api_keys SET prefix = $2, last4 = $3, rotated_at = now(), updated_at = now() WHERE id = $1`,
        [id, displayParts(key).prefix, displayParts(key).last4],
      );
      const after = await this.find(change.manager, id);
      await change.audit({
        action: 'api_key.rotate',
        targetType: 'api_key',
        targetId: id,
        before,
        after,
      });
      await change.invalidate('key');
      return { ...after, key };
    });
  }

  /** Deletes and revokes at once: the next guard call with the key answers 401 `api_key_revoked`. */
  async delete(actor: AdminActor, id: string): Promise<void> {
    await this.changes.run(actor, async (change) => {
      const before = await this.find(change.manager, id, true);
      await change.manager.query(
        `UPDATE api_keys SET deleted_at = now(), revoked_at = COALESCE(revoked_at, now()), updated_at = now()
         WHERE id = $1`,
        [id],
      );
      await change.audit({ action: 'api_key.delete', targetType: 'api_key', targetId: id, before });
      await change.invalidate('key', 'keyspend');
    });
  }

  private insert(
    actor: AdminActor,
    dto: CreateApiKeyDto,
    key: string,
    legacy: boolean,
  ): Promise<CreatedApiKeyResponseDto> {
    this.checkSettings(dto);
    return this.changes.run(actor, async (change) => {
      const [owner] = await change.manager.query('SELECT 1 FROM users WHERE id = $1', [
        dto.user_id,
      ]);
      if (!owner) throw new NotFound('User');
      const [{ id }]: { id: string }[] = await change.manager.query(
        `INSERT INTO api_keys (user_id, name, prefix, last4, limit_credit_dollar, spend_period,
           allowed_models, rpm_limit, expires_at, metadata, tpm_limit, concurrency_limit, limits_mode)
         VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9::timestamptz, $10::jsonb, $11, $12, $13)
         RETURNING id`,
        [
          dto.user_id,
          dto.name,
          displayParts(key).prefix,
          displayParts(key).last4,
          numericParam(dto.limit_credit_dollar),
          dto.spend_period ?? 'lifetime',
          dto.allowed_models ?? null,
          dto.rpm_limit ?? null,
          dto.expires_at ?? null,
          JSON.stringify(dto.metadata ?? {}),
          dto.tpm_limit ?? null,
          dto.concurrency_limit ?? null,
          dto.limits_mode ?? 'enforce',
        ],
      );
      await this.addHash(change.manager, id, key, legacy);
      const after = await this.find(change.manager, id);
      await change.audit({
        action: legacy ? 'api_key.import' : 'api_key.create',
        targetType: 'api_key',
        targetId: id,
        after,
      });
      // The key's hash may sit in the cache as unknown (someone tried it before it existed):
      // that one entry goes, every other key stays cached.
      const entry = `key:${hashSecret(key).toString('hex')}` as const;
      await change.invalidate(...(legacy ? ([entry, 'legacy'] as const) : ([entry] as const)));
      return { ...after, key };
    });
  }

  private async addHash(
    manager: EntityManager,
    id: string,
    key: string,
    legacy: boolean,
  ): Promise<void> {
    try {
      await manager.query(
        `INSERT INTO api_key_hashes (key_hash, api_key_id, prefix, last4, legacy) VALUES ($1, $2, $3, $4, $5)`,
        [hashSecret(key), id, displayParts(key).prefix, displayParts(key).last4, legacy],
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new DomainError('conflict', 'This key is already registered');
      }
      throw error;
    }
  }

  /** The key, not deleted; with `lock`, its row stays locked until the transaction ends. */
  private async find(manager: EntityManager, id: string, lock = false): Promise<ApiKeyResponseDto> {
    if (lock) {
      const [locked] = await manager.query(
        'SELECT 1 FROM api_keys WHERE id = $1 AND deleted_at IS NULL FOR UPDATE',
        [id],
      );
      if (!locked) throw new NotFound('API key');
    }
    const [row]: KeyRow[] = await manager.query(
      `${KEY_SELECT} WHERE k.id = $1 AND k.deleted_at IS NULL`,
      [id],
    );
    if (!row) throw new NotFound('API key');
    return toResponse(row);
  }

  private checkSettings(dto: ApiKeySettingsDto): void {
    if (dto.expires_at && new Date(dto.expires_at).getTime() <= Date.now()) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'must be in the future' }]);
    }
    if (
      dto.metadata !== undefined &&
      Buffer.byteLength(JSON.stringify(dto.metadata)) > METADATA_MAX_BYTES
    ) {
      throw new ValidationFailed([
        { field: 'metadata', message: `must be at most ${METADATA_MAX_BYTES} bytes of JSON` },
      ]);
    }
  }
}

function toResponse(row: KeyRow): ApiKeyResponseDto {
  return {
    ...row,
    limit_credit_dollar: Decimal.of(row.limit_credit_dollar),
    spent_dollar: new Decimal(row.spent_dollar),
    spent_this_month: new Decimal(row.spent_this_month),
  };
}
