import type { Decimal } from '../common/decimal.js';
import type { LimitSettings } from '../limits/limits.service.js';
import type { CreditPlan } from '../users/user.entity.js';

/** Who is calling a guard route, resolved from its three headers by `ApiKeyGuard`. */
export interface GuardPrincipal {
  serviceClientId: string;
  apiKeyId: string;
  /** The key's owner. */
  userId: string;
  /** The organization named by `Swarms-Organization`, if any. */
  organization: { id: string; publicId: string } | null;
  /** Who is billed: the organization's owner, else the key's owner. */
  payerUserId: string;
  model: { id: string; uniqueName: string };
  /** The payer's standing; read for `/auth` only (log-usage never refuses for credit). */
  credit: { plan: CreditPlan; remaining: Decimal | null } | null;
  /** The limits the call falls under, from its key and organization. */
  limits: LimitSettings;
}

export type GuardMode = 'auth' | 'usage';

/** What `/auth` is asked to reserve: its `max_tokens`, and what else it knows of the call. */
export interface ReservationRequest {
  maxTokens: number;
  inputTokens?: number;
  requestId?: string;
}

/** Route metadata read by `ApiKeyGuard`. */
export const GUARD_MODE = 'guard:mode';
export const GUARD_BODY = 'guard:body';
