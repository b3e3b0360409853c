import type { Decimal } from '../../common/decimal.js';
import { ApiInteger, ApiMoney } from '../../common/openapi.js';

export class OrganizationResponseDto {
  /** Internal id, used in admin paths (the public_id works there too). */
  id: string;
  /** The id callers send in `Swarms-Organization`. */
  public_id: string;
  name: string;
  owner_user_id: string;
  /** Member roles that may spend through the organization; the owner always may. */
  spend_roles: ('manager' | 'reader')[];
  /** Monthly budget in USD; null: none. */
  @ApiMoney({ nullable: true, example: 500 })
  monthly_budget: Decimal | null;
  /** The time zone of the budget's calendar months. @example "UTC" */
  time_zone: string;
  /** Requests per minute of calls billed here; null: `DEFAULT_ORG_RPM_LIMIT`. */
  @ApiInteger({ nullable: true, example: 6000 })
  rpm_limit: number | null;
  /** Tokens per minute of calls billed here; null: `DEFAULT_ORG_TPM_LIMIT`. */
  @ApiInteger({ nullable: true, example: 1000000 })
  tpm_limit: number | null;
  /** `enforce`, or `shadow`: limits counted and reported, never refusing. */
  limits_mode: 'enforce' | 'shadow';
  created_at: Date;
  updated_at: Date;
}

export class OrganizationPageDto {
  items: OrganizationResponseDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export class MemberResponseDto {
  organization_id: string;
  user_id: string;
  /** @example "reader" */
  role: 'manager' | 'reader';
  created_at: Date;
}
