import { IsOptional, IsUUID } from 'class-validator';

export class ListApiKeysQueryDto {
  /** Only this user's keys. */
  @IsOptional()
  @IsUUID()
  user_id?: string;
}
