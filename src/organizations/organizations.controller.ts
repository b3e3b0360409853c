import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { PageQueryDto } from '../common/dto/page.query.dto.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
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
@ApiNotFoundResponse({
  description: 'Unknown organization, user or member',
  type: ErrorResponseDto,
})
@Controller('admin/organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  /** Creates an organization; its owner pays for usage billed to it. */
  @Post()
  create(
    @Actor() actor: AdminActor,
    @Body() dto: CreateOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.organizations.create(actor, dto);
  }

  /** Organizations, oldest first; page with `next_cursor`. */
  @Get()
  list(@Query() query: PageQueryDto): Promise<OrganizationPageDto> {
    return this.organizations.list(query);
  }

  /** An organization, by its id or its public_id. */
  @Get(':id')
  get(@Param('id', organizationId) id: string): Promise<OrganizationResponseDto> {
    return this.organizations.get(id);
  }

  /** Renames, or sets which member roles may spend through the guard. */
  @Patch(':id')
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
  transfer(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Body() dto: TransferOrganizationDto,
  ): Promise<OrganizationResponseDto> {
    return this.organizations.transfer(actor, id, dto);
  }

  /** Active members and their roles (the owner is not listed: ownership implies everything). */
  @Get(':id/members')
  listMembers(@Param('id', organizationId) id: string): Promise<MemberResponseDto[]> {
    return this.organizations.listMembers(id);
  }

  /** Adds a member who may then bill usage to the organization. */
  @Post(':id/members')
  addMember(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Body() dto: AddMemberDto,
  ): Promise<MemberResponseDto> {
    return this.organizations.addMember(actor, id, dto);
  }

  /** Changes a member's role. */
  @Patch(':id/members/:userId')
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
  @ApiNoContentResponse()
  async removeMember(
    @Actor() actor: AdminActor,
    @Param('id', organizationId) id: string,
    @Param('userId', memberId) userId: string,
  ): Promise<void> {
    await this.organizations.removeMember(actor, id, userId);
  }
}
