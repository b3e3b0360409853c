import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUUID, Length } from 'class-validator';
import type { MemberRole } from '../organization-member.entity.js';

export class UpdateOrganizationDto {
  /** @example "Acme Research" */
  @IsOptional()
  @Length(1, 200)
  @IsString()
  name?: string;

  /**
   * Member roles that may bill usage to the organization through the guard (the owner always
   * may). Default: every role. A member whose role is not listed gets 403
   * `organization_spend_not_allowed`.
   * @example ["manager"]
   */
  @IsOptional()
  @ArrayMaxSize(2)
  @IsIn(['manager', 'reader'], { each: true })
  @IsArray()
  spend_roles?: MemberRole[];
}

export class TransferOrganizationDto {
  /** The new owner, who pays for the organization's usage from now on. */
  @IsUUID()
  owner_user_id: string;
}

export class UpdateMemberDto {
  /** @example "manager" */
  @IsIn(['manager', 'reader'])
  role: MemberRole;
}
