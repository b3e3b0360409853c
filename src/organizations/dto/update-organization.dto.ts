import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';
import { LIMITS_MODES, type LimitsMode } from '../../limits/limits-mode.js';
import type { MemberRole } from '../organization-member.entity.js';
import { IsOptionalNonNull } from '../../common/validation.js';

export class UpdateOrganizationDto {
  /** @example "Acme Research" */
  @IsOptionalNonNull()
  @Length(1, 200)
  @IsString()
  name?: string;

  /**
   * Member roles that may bill usage to the organization through the guard (the owner always
   * may). Default: every role. A member whose role is not listed gets 403
   * `organization_spend_not_allowed`.
   * @example ["manager"]
   */
  @IsOptionalNonNull()
  @ArrayMaxSize(2)
  @IsIn(['manager', 'reader'], { each: true })
  @IsArray()
  spend_roles?: MemberRole[];

  /**
   * Monthly budget in USD for all usage billed to the organization; null: none. Auth answers
   * 403 `organization_budget_exceeded` once this month's spend (and open reservations) reach it.
   * @example 500
   */
  @ApiMoney()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(0)
  @Max(1_000_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  monthly_budget?: number | null;

  /**
   * IANA time zone whose calendar months the budget follows (default UTC).
   * @example "Europe/Berlin"
   */
  @IsOptional()
  @Length(1, 64)
  @IsString()
  time_zone?: string;

  /**
   * Requests per minute on `/api/guard/auth` of every call billed to the organization; null:
   * `DEFAULT_ORG_RPM_LIMIT` (none when unset).
   * @example 6000
   */
  @ApiInteger()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(1)
  @Max(10_000_000)
  @IsInt()
  rpm_limit?: number | null;

  /**
   * Tokens per minute of every call billed to the organization; null: `DEFAULT_ORG_TPM_LIMIT`
   * (none when unset).
   * @example 1000000
   */
  @ApiInteger()
  @IsOptional()
  @ValidateIf((_dto, value) => value !== null)
  @Min(1)
  @Max(2_000_000_000)
  @IsInt()
  tpm_limit?: number | null;

  /**
   * `enforce` (default), or `shadow`: every call billed here is counted and reported against
   * its limits but never refused.
   * @example "shadow"
   */
  @IsOptionalNonNull()
  @IsIn(LIMITS_MODES)
  limits_mode?: LimitsMode;
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
