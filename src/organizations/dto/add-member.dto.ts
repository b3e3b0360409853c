import { IsIn, IsUUID } from 'class-validator';
import type { MemberRole } from '../organization-member.entity.js';

export class AddMemberDto {
  @IsUUID()
  user_id: string;

  /** @example "reader" */
  @IsIn(['manager', 'reader'])
  role: MemberRole;
}
