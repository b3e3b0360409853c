import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Actor, type AdminActor } from '../audit/admin-actor.js';
import { AdminOnly } from '../common/access.js';
import { PageQueryDto } from '../common/dto/page.query.dto.js';
import { ApiAdminResponses } from '../common/openapi.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { AddCreditDto } from './dto/add-credit.dto.js';
import { CreateUserDto } from './dto/create-user.dto.js';
import { UpdateUserDto } from './dto/update-user.dto.js';
import { CreditResponseDto, UserPageDto, UserResponseDto } from './dto/user-response.dto.js';
import { UsersService } from './users.service.js';

const userId = new UuidParamPipe('User');

@ApiTags('admin: users')
@AdminOnly()
@Controller('admin/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Creates a user with an empty balance. */
  @Post()
  @ApiAdminResponses({ body: 'json', conflict: 'a user with this email already exists' })
  create(@Actor() actor: AdminActor, @Body() dto: CreateUserDto): Promise<UserResponseDto> {
    return this.users.create(actor, dto);
  }

  /** Users, oldest first; page with `next_cursor`. */
  @Get()
  @ApiAdminResponses({ query: true })
  list(@Query() query: PageQueryDto): Promise<UserPageDto> {
    return this.users.list(query);
  }

  /** A user with their credit. */
  @Get(':id')
  @ApiAdminResponses({ path: 'uuid', notFound: 'no such user' })
  get(@Param('id', userId) id: string): Promise<UserResponseDto> {
    return this.users.get(id);
  }

  /** Changes email, plan or monthly limit. */
  @Patch(':id')
  @ApiAdminResponses({
    body: 'json',
    path: 'uuid',
    notFound: 'no such user',
    conflict: 'another user has this email',
  })
  update(
    @Actor() actor: AdminActor,
    @Param('id', userId) id: string,
    @Body() dto: UpdateUserDto,
  ): Promise<UserResponseDto> {
    return this.users.update(actor, id, dto);
  }

  /** Adds paid or free credit. */
  @Post(':id/credits')
  @ApiAdminResponses({ body: 'json', path: 'uuid', notFound: 'no such user' })
  async addCredit(
    @Actor() actor: AdminActor,
    @Param('id', userId) id: string,
    @Body() dto: AddCreditDto,
  ): Promise<CreditResponseDto> {
    return { credit: await this.users.addCredit(actor, id, dto) };
  }
}
