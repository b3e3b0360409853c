/** A service client as listed: never its secret. */
export class ServiceClientResponseDto {
  id: string;
  name: string;
  /** Start of the current secret, to recognise it. @example "ss-0c9a1f2b" */
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
  rotated_at: Date | null;
  /** Until when the secret before the last rotation still works; null when it no longer does. */
  previous_secret_valid_until: Date | null;
  last_used_at: Date | null;
}

/** The answer of create and rotate: the only time the secret is shown. */
export class CreatedServiceClientResponseDto extends ServiceClientResponseDto {
  /** Send it as the `SecretKey` header. Store it now: it cannot be shown again. */
  secret_key: string;
}
