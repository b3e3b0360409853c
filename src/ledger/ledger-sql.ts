/**
 * Every money rule of the service, each written once as a named SQL fragment. The guard (cached
 * and uncached), reservations, usage, the admin answers and the reports compose these by name;
 * no other file writes a rule of its own. A fragment takes the SQL expressions it reads, so it
 * composes into any query without rewriting SQL text.
 */

/** The first day of the current calendar month in UTC: the month of payer and key spend. */
export const UTC_MONTH = `date_trunc('month', now() AT TIME ZONE 'UTC')::date`;

/** Today in UTC: the day of the daily rollups. */
export const UTC_DAY = `(now() AT TIME ZONE 'UTC')::date`;

/** The current hour: the bucket of the hourly rollups. */
export const CURRENT_HOUR = `date_trunc('hour', now())`;

/** The first day of the current calendar month in an organization's time zone. */
export function organizationMonth(timeZone: string): string {
  return `guard_month_in(${timeZone}, now())`;
}

/** When the organization's current month ends, as an instant. */
export function organizationMonthEnd(timeZone: string): string {
  return `((date_trunc('month', now() AT TIME ZONE ${timeZone}) + interval '1 month') AT TIME ZONE ${timeZone})`;
}

/**
 * The cost of `tokens` at `pricePerMillion` USD per million tokens: exact `numeric` arithmetic
 * (multiplying by 0.000001 never rounds, where dividing by 1e6 could).
 */
export function tokenCost(tokens: string, pricePerMillion: string): string {
  return `(${tokens}::numeric * ${pricePerMillion} * 0.000001)`;
}

/** The columns of a payer's `user_credits` row that the rules read, by expression. */
export interface CreditColumns {
  paid: string;
  free: string;
  freeExpiresAt: string;
  reserved: string;
}

/** Whether free credit can still be spent: it has not expired. */
export function freeUsable(c: Pick<CreditColumns, 'freeExpiresAt'>): string {
  return `(${c.freeExpiresAt} IS NULL OR ${c.freeExpiresAt} > now())`;
}

/** Prepaid credit that can be spent, before open reservations: paid plus unexpired free. */
export function prepaidAvailable(c: Omit<CreditColumns, 'reserved'>): string {
  return `(${c.paid} + CASE WHEN ${freeUsable(c)} THEN ${c.free} ELSE 0 END)`;
}

/** A payer's standing, by expression: what {@link payerRemaining} reads. */
export interface PayerStanding {
  plan: string;
  /** Prepaid credit that can be spent, before reservations ({@link prepaidAvailable}). */
  available: string;
  creditLimit: string;
  /** The payer's spend this UTC month (0 when none). */
  monthSpend: string;
  reserved: string;
}

/**
 * "Remaining credit", the one definition: prepaid, the spendable credit; invoice, the monthly
 * limit less this month's spend (null: no limit); both less what open reservations hold.
 * The guard refuses a payer whose remaining is ≤ 0 and reserves only what it covers.
 */
export function payerRemaining(s: PayerStanding): string {
  return `(CASE WHEN ${s.plan} = 'prepaid' THEN ${s.available}
    ELSE ${s.creditLimit} - ${s.monthSpend} END - ${s.reserved})`;
}

/** Whether `amount` fits in a remaining credit (null remaining: an invoice with no limit). */
export function fits(remaining: string, amount: string): string {
  return `(${remaining} IS NULL OR (${remaining} > 0 AND ${remaining} >= ${amount}))`;
}

/** The standing of payer `payerId` from its rows, for a `FROM`/`JOIN LATERAL`. */
export function payerStandingQuery(payerId: string): string {
  const remaining = payerRemaining({
    plan: 'ps_u.credit_plan',
    available: prepaidAvailable({
      paid: 'ps_c.paid',
      free: 'ps_c.free',
      freeExpiresAt: 'ps_c.free_expires_at',
    }),
    creditLimit: 'ps_u.credit_limit',
    monthSpend: 'COALESCE(ps_ms.amount, 0)',
    reserved: 'ps_c.reserved',
  });
  return `
  SELECT ps_u.credit_plan, (${remaining})::text AS remaining, ${fits(remaining, '0')} AS has_credit,
    (extract(epoch FROM CASE WHEN ps_c.free > 0 AND ps_c.free_expires_at > now() THEN ps_c.free_expires_at END) * 1000)::float8
      AS free_expires_at
  FROM users ps_u
  JOIN user_credits ps_c ON ps_c.user_id = ps_u.id
  LEFT JOIN monthly_spend ps_ms ON ps_ms.user_id = ps_u.id AND ps_ms.month = ${UTC_MONTH}
  WHERE ps_u.id = ${payerId}`;
}

/**
 * What a key may still spend under its own cap (null: no cap): the cap less its spend in the
 * cap's period (this UTC month, or its lifetime) and what its open reservations hold.
 */
export function keyHeadroom(k: {
  limit: string;
  period: string;
  lifetimeSpend: string;
  monthSpend: string;
  reserved: string;
}): string {
  return `(${k.limit} - CASE WHEN ${k.period} = 'monthly' THEN ${k.monthSpend} ELSE ${k.lifetimeSpend} END - ${k.reserved})`;
}

/** The headroom of key `keyId` under its cap, for a `FROM`/`JOIN LATERAL`. */
export function keyStandingQuery(keyId: string): string {
  const headroom = keyHeadroom({
    limit: 'ks_k.limit_credit_dollar',
    period: 'ks_k.spend_period',
    lifetimeSpend: 'ks_k.spent_dollar',
    monthSpend: 'COALESCE(ks_m.amount, 0)',
    reserved: 'ks_k.reserved',
  });
  return `
  SELECT NOT ${fits(headroom, '0')} AS over_cap, (${headroom})::text AS headroom
  FROM api_keys ks_k
  LEFT JOIN api_key_monthly_spend ks_m ON ks_m.api_key_id = ks_k.id AND ks_m.month = ${UTC_MONTH}
  WHERE ks_k.id = ${keyId}`;
}

/**
 * What an organization may still spend this month under its budget (null: no budget): the
 * budget less its spend in its own calendar month and what its open reservations hold.
 */
export function organizationHeadroom(o: {
  budget: string;
  monthSpend: string;
  reserved: string;
}): string {
  return `(${o.budget} - ${o.monthSpend} - ${o.reserved})`;
}

/** The headroom of organization `organizationId` under its budget, for a `FROM`/`JOIN LATERAL`. */
export function organizationStandingQuery(organizationId: string): string {
  const headroom = organizationHeadroom({
    budget: 'os_o.monthly_budget',
    monthSpend: 'COALESCE(os_m.amount, 0)',
    reserved: 'os_o.reserved',
  });
  return `
  SELECT ${fits(headroom, '0')} AS under_budget, (${headroom})::text AS headroom,
    (extract(epoch FROM ${organizationMonthEnd('os_o.time_zone')}) * 1000)::float8 AS month_ends_at
  FROM organizations os_o
  LEFT JOIN organization_monthly_spend os_m
    ON os_m.organization_id = os_o.id AND os_m.month = ${organizationMonth('os_o.time_zone')}
  WHERE os_o.id = ${organizationId}`;
}

/**
 * A prepaid debit of `amount` (≥ 0) from a `user_credits` row: unexpired free credit first,
 * then paid credit, which may go negative (usage that happened is always charged). Invoice
 * payers keep their balances: their spend is the month's. The two `SET` assignments.
 */
export function prepaidDebit(c: Omit<CreditColumns, 'reserved'>, plan: string, amount: string) {
  return {
    free: `CASE WHEN ${plan} = 'prepaid' AND ${freeUsable(c)} THEN GREATEST(${c.free} - ${amount}, 0) ELSE ${c.free} END`,
    paid: `CASE WHEN ${plan} = 'prepaid'
      THEN ${c.paid} - GREATEST(${amount} - CASE WHEN ${freeUsable(c)} THEN ${c.free} ELSE 0 END, 0)
      ELSE ${c.paid} END`,
  };
}

/**
 * Grants credit to payer $1: `paid` adds $2; `free` adds $2 to unexpired free credit (free
 * credit past its expiry is replaced, not topped up) and sets its expiry to $3.
 */
export function grantCreditSql(kind: 'paid' | 'free'): string {
  if (kind === 'paid') {
    return `UPDATE user_credits SET paid = paid + $2::numeric, updated_at = now() WHERE user_id = $1`;
  }
  return `UPDATE user_credits SET
    free = CASE WHEN ${freeUsable({ freeExpiresAt: 'free_expires_at' })} THEN free + $2::numeric ELSE $2::numeric END,
    free_expires_at = $3::timestamptz,
    updated_at = now()
  WHERE user_id = $1`;
}
