import { IsOptional, IsUUID } from 'class-validator';
import { PageQueryDto } from '../../common/dto/page.query.dto.js';

export class ListApiKeysQueryDto extends PageQueryDto {
  /** Only this user's keys. */
  @IsOptional()
  @IsUUID()
  user_id?: string;
}
