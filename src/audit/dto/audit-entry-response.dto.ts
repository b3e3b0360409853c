export class AuditEntryResponseDto {
  /** Increasing; newest first in lists. */
  id: string;
  at: Date;
  /** @example "admin-token:3fa2c1d9" */
  actor: string;
  /** @example "api_key.rotate" */
  action: string;
  /** @example "api_key" */
  target_type: string;
  target_id: string;
  /** The target as the API showed it before the change (never a secret); null on creation. */
  before: object | null;
  /** The target after the change; null on deletion. */
  after: object | null;
  /** `X-Request-Id` of the admin request. */
  request_id: string | null;
}

export class AuditPageDto {
  items: AuditEntryResponseDto[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}
