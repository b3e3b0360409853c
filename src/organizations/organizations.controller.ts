import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiTags } from '@nestjs/swagger';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { PageQueryDto } from '../common/dto/page.query.dto.js';
import { ApiAdminResponses } from '../common/openapi.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { AddMemberDto } from './dto/add-member.dto.js';
import { CreateOrganizationDto } from './dto/create-organization.dto.js';
import {
  MemberResponseDto,
  OrganizationPageDto,
  OrganizationResponseDto,
} from './dto/organization-response.dto.js';
import {
  TransferOrganizationDto,
  UpdateMemberDto,
  UpdateOrganizationDto,
} from './dto/update-organization.dto.js';
import { OrganizationsService } from './organizations.service.js';

const organizationId = new UuidParamPipe('Organization');
const memberId = new UuidParamPipe('Member');

@ApiTags('admin: organizations')
@AdminOnly()
@Controller('admin/organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  /** Creates an organization; its owner pays for usage billed to it. */
  @Post()
  @ApiAdminResponses({ body: 'json', notFound: 'no such owner user' })
  create(
    @Actor() actor: AdminActor,
    @Body() dto: CreateOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.organizations.create(actor, dto);
  }

  /** Organizations, oldest first; page with `next_cursor`. */
  @Get()
  @ApiAdminResponses({ query: true })
  list(@Query() query: PageQueryDto): Promise<OrganizationPageDto> {
    return this.organizations.list(query);
  }

  /** An organization, by its id or its public_id. */
  @Get(':id')
  @ApiAdminResponses({ path: 'uuid', notFound: 'no organization with this id or public_id' })
  get(@Param('id', organizationId) id: string): Promise<OrganizationResponseDto> {
    return this.organizations.get(id);
  }

  /** Renames, or sets which member roles may spend through the guard. */
  @Patch(':id')
  @ApiAdminResponses({ body: 'json', path: 'uuid', notFound: 'no such organization' })
  update(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Body() dto: UpdateOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.organizations.update(actor, id, dto);
  }

  /** Makes another user the owner and payer; the previous owner stays on as a manager. */
  @Post(':id/transfer')
  @HttpCode(200)
  @ApiAdminResponses({ body: 'json', path: 'uuid', notFound: 'no such organization or user' })
  transfer(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Body() dto: TransferOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.organizations.transfer(actor, id, dto);
  }

  /** Active members and their roles (the owner is not listed: ownership implies everything). */
  @Get(':id/members')
  @ApiAdminResponses({ path: 'uuid', notFound: 'no such organization' })
  listMembers(@Param('id', organizationId) id: string): Promise<MemberResponseDto[]> {
    return this.organizations.listMembers(id);
  }

  /** Adds a member who may then bill usage to the organization. */
  @Post(':id/members')
  @ApiAdminResponses({
    body: 'json',
    path: 'uuid',
    notFound: 'no such organization or user',
    conflict: 'the user owns the organization, or is already a member',
  })
  addMember(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Body() dto: AddMemberDto,
  ): Promise<MemberResponseDto> {
    return this.organizations.addMember(actor, id, dto);
  }

  /** Changes a member's role. */
  @Patch(':id/members/:userId')
  @ApiAdminResponses({
    body: 'json',
    path: 'uuid',
    notFound: 'no such organization, or the user is not a member',
  })
  updateMember(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Param('userId', memberId) userId: string,
    @Body() dto: UpdateMemberDto,
  ): Promise<MemberResponseDto> {
    return this.organizations.updateMember(actor, id, userId, dto);
  }

  /** Removes a member; their next guard call through the organization is refused. */
  @Delete(':id/members/:userId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiAdminResponses({
    body: 'ignored',
    path: 'uuid',
    notFound: 'no such organization, or the user is not a member',
  })
  async removeMember(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Param('userId', memberId) userId: string,
  ): Promise<void> {
    await this.organizations.removeMember(actor, id, userId);
  }
}
