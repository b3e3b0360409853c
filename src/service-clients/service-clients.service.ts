import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { displayParts, generateServiceSecret } from '../auth/secrets.js';
import { hashSecret } from '../common/crypto.js';
import { NotFound } from '../common/error-codes.js';
import type { CreateServiceClientDto } from './dto/create-service-client.dto.js';
import type {
  CreatedServiceClientResponseDto,
  ServiceClientResponseDto,
} from './dto/service-client-response.dto.js';
import { ServiceClient } from './service-client.entity.js';

@Injectable()
export class ServiceClientsService {
  constructor(
    @InjectRepository(ServiceClient) private readonly clients: Repository<ServiceClient>,
  ) {}

  async create(dto: CreateServiceClientDto): Promise<CreatedServiceClientResponseDto> {
    const secret = generateServiceSecret();
    const saved = await this.clients.save(
      this.clients.create({
        name: dto.name,
        secretHash: hashSecret(secret),
        prefix: displayParts(secret).prefix,
      }),
    );
    return {
      ...toResponse(await this.clients.findOneByOrFail({ id: saved.id })),
      secret_key: secret,
    };
  }

  list(): Promise<ServiceClientResponseDto[]> {
    return this.clients
      .find({ order: { createdAt: 'ASC', id: 'ASC' } })
      .then((all) => all.map(toResponse));
  }

  /** Revokes at once: the next guard call with this secret answers 401 `invalid_secret_key`. */
  async revoke(id: string): Promise<void> {
    const result = await this.clients.update(
      { id, revokedAt: IsNull() },
      { revokedAt: () => 'now()' },
    );
    if (!result.affected) throw new NotFound('Service client');
  }
}

function toResponse(client: ServiceClient): ServiceClientResponseDto {
  return {
    id: client.id,
    name: client.name,
    prefix: client.prefix,
    created_at: client.createdAt,
    revoked_at: client.revokedAt,
    last_used_at: client.lastUsedAt,
  };
}
