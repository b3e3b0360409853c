/** A service client as listed: never its secret. */
export class ServiceClientResponseDto {
  id: string;
  name: string;
  /** First characters of the secret, to recognise it. @example "ss-0c9a1f2b" */
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/** The create answer: the only time the secret is shown. */
export class CreatedServiceClientResponseDto extends ServiceClientResponseDto {
  /** Send it as the `SecretKey` header. Store it now: it cannot be shown again. */
  secret_key: string;
}
