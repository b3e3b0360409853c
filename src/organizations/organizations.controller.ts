import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/access.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { AddMemberDto } from './dto/add-member.dto.js';
import { CreateOrganizationDto } from './dto/create-organization.dto.js';
import { MemberResponseDto, OrganizationResponseDto } from './dto/organization-response.dto.js';
import { OrganizationsService } from './organizations.service.js';

const organizationId = new UuidParamPipe('Organization');

@ApiTags('admin: organizations')
@AdminOnly()
@Controller('admin/organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  /** Creates an organization; its owner pays for usage billed to it. */
  @Post()
  @ApiNotFoundResponse({ description: 'Unknown owner', type: ErrorResponseDto })
  create(@Body() dto: CreateOrganizationDto): Promise<OrganizationResponseDto> {
    return this.organizations.create(dto);
  }

  /** An organization, by its id or its public_id. */
  @Get(':id')
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  get(@Param('id', organizationId) id: string): Promise<OrganizationResponseDto> {
    return this.organizations.get(id);
  }

  /** Adds a member who may then bill usage to the organization. */
  @Post(':id/members')
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  addMember(
    @Param('id', organizationId) id: string,
    @Body() dto: AddMemberDto,
  ): Promise<MemberResponseDto> {
    return this.organizations.addMember(id, dto);
  }

  /** Removes a member; their next guard call through the organization is refused. */
  @Delete(':id/members/:userId')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async removeMember(
    @Param('id', organizationId) id: string,
    @Param('userId', new UuidParamPipe('Member')) userId: string,
  ): Promise<void> {
    await this.organizations.removeMember(id, userId);
  }
}
