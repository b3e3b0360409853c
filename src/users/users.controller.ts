import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiNotFoundResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../common/access.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { UuidParamPipe } from '../common/uuid-param.pipe.js';
import { AddCreditDto } from './dto/add-credit.dto.js';
import { CreateUserDto } from './dto/create-user.dto.js';
import { CreditResponseDto, UserResponseDto } from './dto/user-response.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('admin: users')
@AdminOnly()
@Controller('admin/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Creates a user with an empty balance. */
  @Post()
  create(@Body() dto: CreateUserDto): Promise<UserResponseDto> {
    return this.users.create(dto);
  }

  /** A user with their credit. */
  @Get(':id')
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  get(@Param('id', new UuidParamPipe('User')) id: string): Promise<UserResponseDto> {
    return this.users.get(id);
  }

  /** Adds paid or free credit. */
  @Post(':id/credits')
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async addCredit(
    @Param('id', new UuidParamPipe('User')) id: string,
    @Body() dto: AddCreditDto,
  ): Promise<CreditResponseDto> {
    return { credit: await this.users.addCredit(id, dto) };
  }
}
