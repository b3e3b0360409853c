import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { DomainError, NotFound } from '../common/error-codes.js';
import { User } from '../users/user.entity.js';
import type { AddMemberDto } from './dto/add-member.dto.js';
import type { CreateOrganizationDto } from './dto/create-organization.dto.js';
import type {
  MemberResponseDto,
  OrganizationResponseDto,
} from './dto/organization-response.dto.js';
import { OrganizationMember } from './organization-member.entity.js';
import { Organization } from './organization.entity.js';

const UNIQUE_VIOLATION = '23505';

@Injectable()
export class OrganizationsService {
  constructor(
    @InjectRepository(Organization) private readonly organizations: Repository<Organization>,
    @InjectRepository(OrganizationMember) private readonly members: Repository<OrganizationMember>,
    @InjectRepository(User) private readonly users: Repository<User>,
  ) {}

  async create(dto: CreateOrganizationDto): Promise<OrganizationResponseDto> {
    await this.requireUser(dto.owner_user_id);
    const organization = await this.organizations.save(
      this.organizations.create({ name: dto.name, ownerUserId: dto.owner_user_id }),
    );
    return this.get(organization.id);
  }

  /** By internal id or by public_id. */
  async get(id: string): Promise<OrganizationResponseDto> {
    return toResponse(await this.find(id));
  }

  async addMember(organizationId: string, dto: AddMemberDto): Promise<MemberResponseDto> {
    const organization = await this.find(organizationId);
    await this.requireUser(dto.user_id);
    try {
      const member = await this.members.save(
        this.members.create({
          organizationId: organization.id,
          userId: dto.user_id,
          role: dto.role,
        }),
      );
      return toMemberResponse(member);
    } catch (error) {
      if ((error as { driverError?: { code?: string } }).driverError?.code === UNIQUE_VIOLATION) {
        throw new DomainError('conflict', 'The user is already a member of this organization');
      }
      throw error;
    }
  }

  /** Soft removal: the membership row stays, with the time it ended. Takes effect at once. */
  async removeMember(organizationId: string, userId: string): Promise<void> {
    const organization = await this.find(organizationId);
    const result = await this.members.update(
      { organizationId: organization.id, userId, removedAt: IsNull() },
      { removedAt: () => 'now()' },
    );
    if (!result.affected) throw new NotFound('Member');
  }

  private async find(id: string): Promise<Organization> {
    const organization = await this.organizations.findOne({
      where: [{ id }, { publicId: id }],
    });
    if (!organization) throw new NotFound('Organization');
    return organization;
  }

  private async requireUser(id: string): Promise<void> {
    if (!(await this.users.existsBy({ id }))) throw new NotFound('User');
  }
}

function toResponse(organization: Organization): OrganizationResponseDto {
  return {
    id: organization.id,
    public_id: organization.publicId,
    name: organization.name,
    owner_user_id: organization.ownerUserId,
    created_at: organization.createdAt,
  };
}

function toMemberResponse(member: OrganizationMember): MemberResponseDto {
  return {
    organization_id: member.organizationId,
    user_id: member.userId,
    role: member.role,
    created_at: member.createdAt,
  };
}
