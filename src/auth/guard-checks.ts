import { DomainError, ValidationFailed, type FieldError } from '../common/error-codes.js';
import { Decimal } from '../common/decimal.js';
import { isUuid } from '../common/uuid.js';
import type { CreditPlan } from '../users/user.entity.js';
import type { LimitSettings } from '../limits/limits.service.js';
import type { LimitsMode } from '../limits/limits-mode.js';
import type { GuardMode, GuardPrincipal } from './guard-principal.js';

/** What one round trip to Postgres tells about the three headers, the model and the payer. */
export interface GuardLookupRow {
  service_client_id: string | null;
  api_key_id: string | null;
  api_key_user_id: string | null;
  api_key_revoked: boolean | null;
  api_key_expired: boolean | null;
  api_key_over_cap: boolean | null;
  allowed_models: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  concurrency_limit: number | null;
  limits_mode: LimitsMode | null;
  organization_id: string | null;
  organization_public_id: string | null;
  organization_rpm_limit: number | null;
  organization_tpm_limit: number | null;
  organization_limits_mode: LimitsMode | null;
  is_member: boolean | null;
  /** The owner, or a member whose role is in the organization's spend roles. */
  may_spend: boolean | null;
  model_id: string | null;
  model_name: string | null;
  model_enabled: boolean | null;
  payer_id: string | null;
  credit_plan: CreditPlan | null;
  /** The payer's remaining credit (`payerRemaining` in the ledger's rules); null: an invoice with no limit. */
  remaining: string | null;
  has_credit: boolean | null;
  /** With an organization: whether it is under its monthly budget (or has none). */
  organization_under_budget: boolean | null;
}

/** A row where nothing was found. */
export const EMPTY_ROW: Readonly<GuardLookupRow> = Object.freeze({
  service_client_id: null,
  api_key_id: null,
  api_key_user_id: null,
  api_key_revoked: null,
  api_key_expired: null,
  api_key_over_cap: null,
  allowed_models: null,
  rpm_limit: null,
  tpm_limit: null,
  concurrency_limit: null,
  limits_mode: null,
  organization_id: null,
  organization_public_id: null,
  organization_rpm_limit: null,
  organization_tpm_limit: null,
  organization_limits_mode: null,
  is_member: null,
  may_spend: null,
  model_id: null,
  model_name: null,
  model_enabled: null,
  payer_id: null,
  credit_plan: null,
  remaining: null,
  has_credit: null,
  organization_under_budget: null,
});

export interface GuardRequest {
  mode: GuardMode;
  secretKey: string | undefined;
  apiKey: string | undefined;
  apiKeyWellFormed: boolean;
  /** Raw `Swarms-Organization` header. */
  organization: string | undefined;
  /** The model named in the body, when it is a non-empty string. */
  model: string | undefined;
  /** Body validation problems: of the whole body (log-usage), or of the reservation fields (auth). */
  bodyErrors: FieldError[] | null;
  /** Auth that reserves: the reservation checks credit, budget and cap on the locked rows. */
  reserves: boolean;
}

/**
 * The contract's check table, in its order, up to the model checks (1–10): the first failing
 * check answers. Log-usage validates its body after the SecretKey checks. Then come the rate
 * limits (11, counted by the limits, auth only) and {@link runStandingChecks} (12).
 */
export function runGuardChecks(request: GuardRequest, row: GuardLookupRow | null): GuardPrincipal {
  if (!request.secretKey) throw new DomainError('secret_key_missing');
  if (!row?.service_client_id) throw new DomainError('invalid_secret_key');
  if (request.mode === 'usage' && request.bodyErrors)
    throw new ValidationFailed(request.bodyErrors);

  if (!request.apiKey) throw new DomainError('api_key_missing');
  if (!request.apiKeyWellFormed || !row.api_key_id || !row.api_key_user_id) {
    throw new DomainError('invalid_api_key');
  }
  if (row.api_key_revoked) throw new DomainError('api_key_revoked');
  if (row.api_key_expired) throw new DomainError('api_key_expired');

  if (!request.model) throw new DomainError('model_missing');
  if (request.mode === 'auth' && request.bodyErrors) throw new ValidationFailed(request.bodyErrors);

  let organization: GuardPrincipal['organization'] = null;
  if (request.organization !== undefined) {
    if (!isUuid(request.organization)) throw new DomainError('invalid_organization_id');
    if (!row.organization_id || !row.organization_public_id) {
      throw new DomainError('organization_not_found');
    }
    if (!row.is_member) throw new DomainError('not_organization_member');
    if (!row.may_spend) throw new DomainError('organization_spend_not_allowed');
    // The public id as the caller sent it (a UUID in any letter case).
    organization = { id: row.organization_id, publicId: request.organization };
  }

  if (!row.model_id || !row.model_name || !row.model_enabled) {
    throw new DomainError('model_not_found');
  }
  if (row.allowed_models && !row.allowed_models.includes(row.model_name)) {
    throw new DomainError('model_not_allowed');
  }
  if (!row.payer_id) throw new Error('API key without a payer');

  return {
    serviceClientId: row.service_client_id,
    apiKeyId: row.api_key_id,
    userId: row.api_key_user_id,
    organization,
    payerUserId: row.payer_id,
    model: { id: row.model_id, uniqueName: row.model_name },
    credit: null,
    limits: limitSettingsOf(row, row.api_key_id, row.api_key_user_id, organization),
  };
}

/** Check 12 of auth without a reservation (which checks the same on the locked rows). */
export function runStandingChecks(
  request: GuardRequest,
  row: GuardLookupRow,
  principal: GuardPrincipal,
): GuardPrincipal {
  if (request.mode !== 'auth' || request.reserves) return principal;
  if (!row.credit_plan) throw new Error('Payer without a credit plan');
  const credit = { plan: row.credit_plan, remaining: Decimal.of(row.remaining) };
  if (!row.has_credit) {
    throw new DomainError(
      row.credit_plan === 'prepaid' ? 'insufficient_credits' : 'billing_limit_exceeded',
    );
  }
  if (principal.organization && row.organization_under_budget === false) {
    throw new DomainError('organization_budget_exceeded');
  }
  if (row.api_key_over_cap) throw new DomainError('api_key_limit_exceeded');
  return { ...principal, credit };
}

function limitSettingsOf(
  row: GuardLookupRow,
  apiKeyId: string,
  userId: string,
  organization: GuardPrincipal['organization'],
): LimitSettings {
  return {
    apiKeyId,
    userId,
    key: {
      rpm: row.rpm_limit,
      tpm: row.tpm_limit,
      concurrency: row.concurrency_limit,
      mode: row.limits_mode ?? 'enforce',
    },
    organization: organization
      ? {
          id: organization.id,
          rpm: row.organization_rpm_limit,
          tpm: row.organization_tpm_limit,
          mode: row.organization_limits_mode ?? 'enforce',
        }
      : null,
  };
}
