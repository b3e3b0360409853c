import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { hashSecret } from '../common/crypto.js';
import { Decimal } from '../common/decimal.js';
import { NotFound, ValidationFailed } from '../common/error-codes.js';
import { User } from '../users/user.entity.js';
import { ApiKey } from './api-key.entity.js';
import type { ApiKeyResponseDto, CreatedApiKeyResponseDto } from './dto/api-key-response.dto.js';
import type { CreateApiKeyDto } from './dto/create-api-key.dto.js';
import { displayParts, generateApiKey } from './secrets.js';

const LIST_LIMIT = 1000;

@Injectable()
export class ApiKeysService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(dto: CreateApiKeyDto): Promise<CreatedApiKeyResponseDto> {
    if (dto.expires_at !== undefined && new Date(dto.expires_at).getTime() <= Date.now()) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'must be in the future' }]);
    }
    if (!(await this.dataSource.getRepository(User).existsBy({ id: dto.user_id }))) {
      throw new NotFound('User');
    }
    const key = generateApiKey();
    const repository = this.dataSource.getRepository(ApiKey);
    const saved = await repository.save(
      repository.create({
        userId: dto.user_id,
        name: dto.name,
        keyHash: hashSecret(key),
        ...displayParts(key),
        limitCreditDollar: dto.limit_credit_dollar == null ? null : String(dto.limit_credit_dollar),
        allowedModels: dto.allowed_models ?? null,
        rpmLimit: dto.rpm_limit ?? null,
        expiresAt: dto.expires_at ? new Date(dto.expires_at) : null,
      }),
    );
    const stored = await repository.findOneByOrFail({ id: saved.id });
    return { ...toResponse(stored), key };
  }

  async list(userId: string | undefined): Promise<ApiKeyResponseDto[]> {
    const keys = await this.dataSource.getRepository(ApiKey).find({
      where: { userId, deletedAt: IsNull() },
      order: { createdAt: 'ASC', id: 'ASC' },
      take: LIST_LIMIT,
    });
    return keys.map(toResponse);
  }

  /** Revokes at once: the very next guard call with the key answers 401 `api_key_revoked`. */
  async delete(id: string): Promise<void> {
    const result = await this.dataSource
      .getRepository(ApiKey)
      .update(
        { id, deletedAt: IsNull() },
        { deletedAt: () => 'now()', revokedAt: () => 'COALESCE(revoked_at, now())' },
      );
    if (!result.affected) throw new NotFound('API key');
  }
}

function toResponse(key: ApiKey): ApiKeyResponseDto {
  return {
    id: key.id,
    user_id: key.userId,
    name: key.name,
    prefix: key.prefix,
    last4: key.last4,
    limit_credit_dollar: Decimal.of(key.limitCreditDollar),
    spent_dollar: new Decimal(key.spentDollar),
    allowed_models: key.allowedModels,
    rpm_limit: key.rpmLimit,
    expires_at: key.expiresAt,
    revoked_at: key.revokedAt,
    last_used_at: key.lastUsedAt,
    created_at: key.createdAt,
  };
}
