import { DomainError } from '../common/error-codes.js';
import {
  runGuardChecks,
  runStandingChecks,
  type GuardLookupRow,
  type GuardRequest,
} from './guard-checks.js';

const ORG = '8dd141c7-b009-4aba-8dbf-bf0af90b5c62';

const passingRow: GuardLookupRow = {
  service_client_id: 'sc',
  api_key_id: 'key',
  api_key_user_id: 'user',
  api_key_revoked: false,
  api_key_expired: false,
  api_key_over_cap: false,
  allowed_models: null,
  rpm_limit: null,
  tpm_limit: null,
  concurrency_limit: null,
  limits_mode: 'enforce',
  organization_id: 'org',
  organization_public_id: ORG,
  organization_rpm_limit: null,
  organization_tpm_limit: null,
  organization_limits_mode: 'shadow',
  is_member: true,
  may_spend: true,
  model_id: 'model',
  model_name: 'cogvlm-chat-17b',
  model_enabled: true,
  payer_id: 'owner',
  credit_plan: 'prepaid',
  remaining: '9.5',
  has_credit: true,
  organization_under_budget: true,
};

const passingRequest: GuardRequest = {
  mode: 'auth',
  secretKey: 'ss-x',
  apiKey: 'sk-x',
  apiKeyWellFormed: true,
  organization: ORG,
  model: 'cogvlm-chat-17b',
  bodyErrors: null,
  reserves: false,
};

const allowed = true;
const refused = false;

/** The whole table as the guard runs it: checks 1–10, the rate limits' verdict (11), then 12. */
function checkTable(request: GuardRequest, row: GuardLookupRow | null, withinLimits: boolean) {
  const principal = runGuardChecks(request, row);
  if (request.mode === 'auth' && !withinLimits) throw new DomainError('rate_limited');
  return runStandingChecks(request, row!, principal);
}

/** Every check of the table failing at once, so only the order decides which answers. */
type Failure = [code: string, request: Partial<GuardRequest>, row: Partial<GuardLookupRow>];
const failures: Failure[] = [
  ['secret_key_missing', { secretKey: undefined }, {}],
  ['invalid_secret_key', {}, { service_client_id: null }],
  ['api_key_missing', { apiKey: undefined }, {}],
  ['invalid_api_key', { apiKeyWellFormed: false }, {}],
  ['api_key_revoked', {}, { api_key_revoked: true }],
  ['api_key_expired', {}, { api_key_expired: true }],
  ['model_missing', { model: undefined }, {}],
  ['invalid_organization_id', { organization: 'acme' }, {}],
  ['organization_not_found', {}, { organization_id: null }],
  ['not_organization_member', {}, { is_member: false }],
  ['organization_spend_not_allowed', {}, { may_spend: false }],
  ['model_not_found', {}, { model_enabled: false }],
  ['model_not_allowed', {}, { allowed_models: ['gpt-4o'] }],
  ['rate_limited', {}, {}],
  ['insufficient_credits', {}, { has_credit: false }],
  ['organization_budget_exceeded', {}, { organization_under_budget: false }],
  ['api_key_limit_exceeded', {}, { api_key_over_cap: true }],
];

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
  return 'passed';
}

describe(runGuardChecks.name, () => {
  it('lets a request through when every check passes', () => {
    const principal = checkTable(passingRequest, passingRow, allowed);
    expect(principal).toMatchObject({
      apiKeyId: 'key',
      userId: 'user',
      payerUserId: 'owner',
      organization: { id: 'org', publicId: ORG },
      model: { id: 'model', uniqueName: 'cogvlm-chat-17b' },
    });
    expect(principal.credit?.remaining?.text).toBe('9.5');
  });

  it('carries the limits of the key and of the organization billed', () => {
    const row = { ...passingRow, rpm_limit: 60, tpm_limit: 1000, organization_rpm_limit: 500 };
    expect(runGuardChecks(passingRequest, row).limits).toEqual({
      apiKeyId: 'key',
      userId: 'user',
      key: { rpm: 60, tpm: 1000, concurrency: null, mode: 'enforce' },
      organization: { id: 'org', rpm: 500, tpm: null, mode: 'shadow' },
    });
    expect(
      runGuardChecks({ ...passingRequest, organization: undefined }, row).limits.organization,
    ).toBeNull();
  });

  it.each(failures.map((failure, index) => [failure[0], index] as const))(
    'answers %s when it and every later check fail',
    (code, index) => {
      const later = failures.slice(index);
      const request = Object.assign({}, passingRequest, ...later.map((failure) => failure[1]));
      const row = Object.assign({}, passingRow, ...later.map((failure) => failure[2]));
      const rate = later.some((failure) => failure[0] === 'rate_limited') ? refused : allowed;
      expect(codeOf(() => checkTable(request, row, rate))).toBe(code);
    },
  );

  it('answers a missing SecretKey before looking anything up', () => {
    expect(
      codeOf(() => checkTable({ ...passingRequest, secretKey: undefined }, null, allowed)),
    ).toBe('secret_key_missing');
  });

  it('refuses an invoice payer over its limit with billing_limit_exceeded', () => {
    const row = { ...passingRow, credit_plan: 'invoice' as const, has_credit: false };
    expect(codeOf(() => checkTable(passingRequest, row, allowed))).toBe('billing_limit_exceeded');
  });

  describe('log-usage', () => {
    const usage: GuardRequest = { ...passingRequest, mode: 'usage' };

    it('validates the body after the SecretKey and before the API key', () => {
      const bodyErrors = [{ field: 'input_tokens', message: 'must be an integer' }];
      expect(
        codeOf(() => checkTable({ ...usage, bodyErrors, secretKey: undefined }, null, allowed)),
      ).toBe('secret_key_missing');
      expect(
        codeOf(() =>
          checkTable({ ...usage, bodyErrors }, { ...passingRow, service_client_id: null }, allowed),
        ),
      ).toBe('invalid_secret_key');
      expect(
        codeOf(() => checkTable({ ...usage, bodyErrors, apiKey: undefined }, passingRow, allowed)),
      ).toBe('validation_failed');
    });

    it('never refuses for rate or credit: usage that happened is recorded', () => {
      const row = { ...passingRow, has_credit: false, api_key_over_cap: true };
      expect(codeOf(() => checkTable(usage, row, refused))).toBe('passed');
    });
  });
});
