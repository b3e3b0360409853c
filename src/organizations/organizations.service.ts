import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdminActor } from '../audit/admin-actor.js';
import { AdminChanges } from '../audit/admin-changes.service.js';
import { standingInvalidation } from '../auth-cache/invalidation.js';
import type { PageQueryDto } from '../common/dto/page.query.dto.js';
import { Decimal } from '../common/decimal.js';
import { DomainError, NotFound, ValidationFailed } from '../common/error-codes.js';
import { decodeCursor, encodeCursor } from '../common/keyset.js';
import type { AddMemberDto } from './dto/add-member.dto.js';
import type { CreateOrganizationDto } from './dto/create-organization.dto.js';
import type {
  MemberResponseDto,
  OrganizationPageDto,
  OrganizationResponseDto,
} from './dto/organization-response.dto.js';
import type {
  TransferOrganizationDto,
  UpdateMemberDto,
  UpdateOrganizationDto,
} from './dto/update-organization.dto.js';

const ORGANIZATION_SELECT = `
SELECT id, public_id, name, owner_user_id, spend_roles, monthly_budget::text, time_zone,
  rpm_limit, tpm_limit, limits_mode,
  created_at, updated_at, created_at::text AS created_at_text
FROM organizations`;

const MEMBER_SELECT = `
SELECT organization_id, user_id, role, created_at FROM organization_members`;

type OrganizationRow = Omit<OrganizationResponseDto, 'monthly_budget'> & {
  monthly_budget: string | null;
  created_at_text: string;
};

/** Organizations and their members. Changes reach the guard on every instance within a second. */
@Injectable()
export class OrganizationsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly changes: AdminChanges,
  ) {}

  create(actor: AdminActor, dto: CreateOrganizationDto): Promise<OrganizationResponseDto> {
    return this.changes.run(actor, async (change) => {
      await this.requireUser(change.manager, dto.owner_user_id);
      const [{ id }]: { id: string }[] = await change.manager.query(
        'INSERT INTO organizations (name, owner_user_id) VALUES ($1, $2) RETURNING id',
        [dto.name, dto.owner_user_id],
      );
      const after = await this.get(id, change.manager);
      await change.audit({
        action: 'organization.create',
        targetType: 'organization',
        targetId: id,
        after,
      });
      // Its public_id may sit in the cache as unknown.
      await change.invalidate('org');
      return after;
    });
  }

  /** By internal id or by public_id. */
  async get(
    id: string,
    manager: EntityManager = this.dataSource.manager,
    lock = false,
  ): Promise<OrganizationResponseDto> {
    const [row]: OrganizationRow[] = await manager.query(
      `${ORGANIZATION_SELECT} WHERE id = $1 OR public_id = $1 ${lock ? 'FOR UPDATE' : ''}`,
      [id],
    );
    if (!row) throw new NotFound('Organization');
    return withoutCursor(row);
  }

  async list(query: PageQueryDto): Promise<OrganizationPageDto> {
    const limit = query.limit ?? 100;
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows: OrganizationRow[] = await this.dataSource.query(
      `${ORGANIZATION_SELECT}
       WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid)
       ORDER BY created_at, id LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(withoutCursor),
      next_cursor: rows.length > limit ? encodeCursor(last.created_at_text, last.id) : null,
    };
  }

  /** Renames, or changes which member roles may spend. */
  update(
    actor: AdminActor,
    id: string,
    dto: UpdateOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.changes.run(actor, async (change) => {
      const before = await this.get(id, change.manager, true);
      if (dto.time_zone !== undefined) {
        const [known] = await change.manager.query(
          'SELECT 1 FROM pg_timezone_names WHERE name = $1',
          [dto.time_zone],
        );
        if (!known)
          throw new ValidationFailed([
            { field: 'time_zone', message: 'must be an IANA time zone name' },
          ]);
      }
      await change.manager.query(
        `UPDATE organizations SET name = COALESCE($2, name), spend_roles = COALESCE($3, spend_roles),
           monthly_budget = CASE WHEN $4 THEN $5::numeric ELSE monthly_budget END,
           time_zone = COALESCE($6, time_zone),
           rpm_limit = CASE WHEN $7 THEN $8::integer ELSE rpm_limit END,
           tpm_limit = CASE WHEN $9 THEN $10::integer ELSE tpm_limit END,
           limits_mode = COALESCE($11, limits_mode), updated_at = now()
         WHERE id = $1`,
        [
          before.id,
          dto.name ?? null,
          dto.spend_roles ?? null,
          dto.monthly_budget !== undefined,
          dto.monthly_budget === undefined || dto.monthly_budget === null
            ? null
            : String(dto.monthly_budget),
          dto.time_zone ?? null,
          dto.rpm_limit !== undefined,
          dto.rpm_limit ?? null,
          dto.tpm_limit !== undefined,
          dto.tpm_limit ?? null,
          dto.limits_mode ?? null,
        ],
      );
      const after = await this.get(before.id, change.manager);
      await change.audit({
        action: 'organization.update',
        targetType: 'organization',
        targetId: before.id,
        before,
        after,
      });
      await change.invalidate('org', standingInvalidation('organization', before.id));
      return after;
    });
  }

  /**
   * Makes another user the owner (and payer). The previous owner stays on as a manager; the
   * new owner's membership, now implied by ownership, ends.
   */
  transfer(
    actor: AdminActor,
    id: string,
    dto: TransferOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.changes.run(actor, async (change) => {
      const before = await this.get(id, change.manager, true);
      await this.requireUser(change.manager, dto.owner_user_id);
      if (before.owner_user_id !== dto.owner_user_id) {
        await change.manager.query(
          `UPDATE organization_members SET removed_at = now()
           WHERE organization_id = $1 AND user_id = $2 AND removed_at IS NULL`,
          [before.id, dto.owner_user_id],
        );
        await change.manager.query(
          `INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'manager')
           ON CONFLICT (organization_id, user_id) WHERE removed_at IS NULL DO NOTHING`,
          [before.id, before.owner_user_id],
        );
        await change.manager.query(
          'UPDATE organizations SET owner_user_id = $2, updated_at = now() WHERE id = $1',
          [before.id, dto.owner_user_id],
        );
      }
      const after = await this.get(before.id, change.manager);
      await change.audit({
        action: 'organization.transfer',
        targetType: 'organization',
        targetId: before.id,
        before,
        after,
      });
      await change.invalidate('org', 'member');
      return after;
    });
  }

  async listMembers(id: string): Promise<MemberResponseDto[]> {
    const organization = await this.get(id);
    return this.dataSource.query(
      `${MEMBER_SELECT} WHERE organization_id = $1 AND removed_at IS NULL ORDER BY created_at, user_id`,
      [organization.id],
    );
  }

  addMember(
    actor: AdminActor,
    organizationId: string,
    dto: AddMemberDto,
  ): Promise<MemberResponseDto> {
    return this.changes.run(actor, async (change) => {
      const organization = await this.get(organizationId, change.manager, true);
      await this.requireUser(change.manager, dto.user_id);
      if (organization.owner_user_id === dto.user_id) {
        throw new DomainError('conflict', 'The user owns this organization');
      }
      const [member]: MemberResponseDto[] = await change.manager.query(
        `INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (organization_id, user_id) WHERE removed_at IS NULL DO NOTHING
         RETURNING organization_id, user_id, role, created_at`,
        [organization.id, dto.user_id, dto.role],
      );
      if (!member)
        throw new DomainError('conflict', 'The user is already a member of this organization');
      await change.audit({
        action: 'organization.member.add',
        targetType: 'organization',
        targetId: organization.id,
        after: member,
      });
      await change.invalidate('member');
      return member;
    });
  }

  updateMember(
    actor: AdminActor,
    organizationId: string,
    userId: string,
    dto: UpdateMemberDto,
  ): Promise<MemberResponseDto> {
    return this.changes.run(actor, async (change) => {
      const organization = await this.get(organizationId, change.manager, true);
      const before = await this.findMember(change.manager, organization.id, userId);
      // An UPDATE answers [rows, count] through TypeORM.
      const [[after]]: [MemberResponseDto[], number] = await change.manager.query(
        `UPDATE organization_members SET role = $3
         WHERE organization_id = $1 AND user_id = $2 AND removed_at IS NULL
         RETURNING organization_id, user_id, role, created_at`,
        [organization.id, userId, dto.role],
      );
      await change.audit({
        action: 'organization.member.update',
        targetType: 'organization',
        targetId: organization.id,
        before,
        after,
      });
      await change.invalidate('member');
      return after;
    });
  }

  /** Soft removal: the membership row stays, with the time it ended. Takes effect at once. */
  async removeMember(actor: AdminActor, organizationId: string, userId: string): Promise<void> {
    await this.changes.run(actor, async (change) => {
      const organization = await this.get(organizationId, change.manager, true);
      const before = await this.findMember(change.manager, organization.id, userId);
      await change.manager.query(
        `UPDATE organization_members SET removed_at = now()
         WHERE organization_id = $1 AND user_id = $2 AND removed_at IS NULL`,
        [organization.id, userId],
      );
      await change.audit({
        action: 'organization.member.remove',
        targetType: 'organization',
        targetId: organization.id,
        before,
      });
      await change.invalidate('member');
    });
  }

  private async findMember(
    manager: EntityManager,
    organizationId: string,
    userId: string,
  ): Promise<MemberResponseDto> {
    const [member]: MemberResponseDto[] = await manager.query(
      `${MEMBER_SELECT} WHERE organization_id = $1 AND user_id = $2 AND removed_at IS NULL`,
      [organizationId, userId],
    );
    if (!member) throw new NotFound('Member');
    return member;
  }

  private async requireUser(manager: EntityManager, id: string): Promise<void> {
    const [found] = await manager.query('SELECT 1 FROM users WHERE id = $1', [id]);
    if (!found) throw new NotFound('User');
  }
}

function withoutCursor({
  created_at_text: _cursor,
  ...organization
}: OrganizationRow): OrganizationResponseDto {
  return { ...organization, monthly_budget: Decimal.of(organization.monthly_budget) };
}
