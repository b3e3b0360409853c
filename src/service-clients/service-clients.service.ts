import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdminActor } from '../audit/admin-actor.js';
import { AdminChanges } from '../audit/admin-changes.service.js';
import { displayParts, generateServiceSecret } from '../auth/secrets.js';
import { hashSecret } from '../common/crypto.js';
import { endCurrentSecrets } from '../common/secret-rotation.js';
import { NotFound } from '../common/error-codes.js';
import type { CreateServiceClientDto } from './dto/create-service-client.dto.js';
import type { RotateSecretDto } from './dto/rotate-secret.dto.js';
import type {
  CreatedServiceClientResponseDto,
  ServiceClientResponseDto,
} from './dto/service-client-response.dto.js';

const CLIENT_SELECT = `
SELECT c.id, c.name, c.prefix, c.created_at, c.revoked_at, c.rotated_at,
  (SELECT max(s.valid_until) FROM service_client_secrets s
   WHERE s.service_client_id = c.id AND s.valid_until > now()) AS previous_secret_valid_until,
  c.last_used_at
FROM service_clients c`;

/** The calling services: register, list, rotate their secret, revoke. */
@Injectable()
export class ServiceClientsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly changes: AdminChanges,
  ) {}

  create(actor: AdminActor, dto: CreateServiceClientDto): Promise<CreatedServiceClientResponseDto> {
    return this.changes.run(actor, async (change) => {
      const secret = generateServiceSecret();
      const [{ id }]: { id: string }[] = await change.manager.query(
        'INSERT INTO service_clients (name, prefix) VALUES ($1, $2) RETURNING id',
        [dto.name, displayParts(secret).prefix],
      );
      await this.addSecret(change.manager, id, secret);
      const after = await this.find(change.manager, id);
      await change.audit({
        action: 'service_client.create',
        targetType: 'service_client',
        targetId: id,
        after,
      });
      await change.invalidate('secret');
      return { ...after, secret_key: secret };
    });
  }

  async list(): Promise<ServiceClientResponseDto[]> {
    return this.dataSource.query(`${CLIENT_SELECT} ORDER BY c.created_at, c.id`);
  }

  get(id: string): Promise<ServiceClientResponseDto> {
    return this.find(this.dataSource.manager, id);
  }

  /** A new secret; the current one keeps working for `grace_seconds`, then is refused. */
  rotate(
    actor: AdminActor,
    id: string,
    dto: RotateSecretDto,
  ): Promise<CreatedServiceClientResponseDto> {
    return this.changes.run(actor, async (change) => {
      const before = await this.find(change.manager, id, true);
      await endCurrentSecrets(change.manager, 'service_client_secrets', id, dto.grace_seconds ?? 0);
      const secret = generateServiceSecret();
      await this.addSecret(change.manager, id, secret);
      await change.manager.query(
        'UPDATE service_clients SET prefix = $2, rotated_at = now() WHERE id = $1',
        [id, displayParts(secret).prefix],
      );
      const after = await this.find(change.manager, id);
      await change.audit({
        action: 'service_client.rotate',
        targetType: 'service_client',
        targetId: id,
        before,
        after,
      });
      await change.invalidate('secret');
      return { ...after, secret_key: secret };
    });
  }

  /** Revokes at once: the next guard call with any of its secrets answers 401 `invalid_secret_key`. */
  async revoke(actor: AdminActor, id: string): Promise<void> {
    await this.changes.run(actor, async (change) => {
      const before = await this.find(change.manager, id, true);
      await change.manager.query('UPDATE service_clients SET revoked_at = now() WHERE id = $1', [
        id,
      ]);
      const after = await this.find(change.manager, id, false, true);
      await change.audit({
        action: 'service_client.revoke',
        targetType: 'service_client',
        targetId: id,
        before,
        after,
      });
      await change.invalidate('secret');
    });
  }

  private async addSecret(manager: EntityManager, id: string, secret: string): Promise<void> {
    await manager.query(
      'INSERT INTO service_client_secrets (secret_hash, service_client_id, prefix) VALUES ($1, $2, $3)',
      [hashSecret(secret), id, displayParts(secret).prefix],
    );
  }

  /** An active client (or, with `includeRevoked`, any); `lock` holds its row until commit. */
  private async find(
    manager: EntityManager,
    id: string,
    lock = false,
    includeRevoked = false,
  ): Promise<ServiceClientResponseDto> {
    if (lock) {
      const [locked] = await manager.query(
        'SELECT 1 FROM service_clients WHERE id = $1 AND revoked_at IS NULL FOR UPDATE',
        [id],
      );
      if (!locked) throw new NotFound('Service client');
    }
    const [row]: ServiceClientResponseDto[] = await manager.query(
      `${CLIENT_SELECT} WHERE c.id = $1 ${includeRevoked ? '' : 'AND c.revoked_at IS NULL'}`,
      [id],
    );
    if (!row) throw new NotFound('Service client');
    return row;
  }
}
