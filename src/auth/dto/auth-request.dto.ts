/** A chat message, as the caller will send it to the model. Not stored by `/auth`. */
export class ChatMessageDto {
  /** @example "user" */
  role: string;
  /** @example "Compose a poem that explains the concept of recursion in programming." */
  content: string;
}

/** Body of `POST /api/guard/auth`. Fields other than `model` are accepted and ignored. */
export class AuthRequestDto {
  /**
   * The model the caller is about to run.
   * @example "cogvlm-chat-17b"
   */
  model: string;
  /** The conversation, optional; it is not stored. */
  messages?: ChatMessageDto[];
  /**
   * With it, auth reserves the largest cost the call can have (`input_tokens` × input price +
   * `max_tokens` × output price) against the payer's credit, the key's cap and the
   * organization's budget, atomically; the matching log-usage settles it.
   * @example 256
   */
  max_tokens?: number;
  /** Input tokens of the call, when known (else only the output is reserved). @example 120 */
  input_tokens?: number;
  /** Ties the reservation to the log-usage call with the same `request_id`. */
  request_id?: string;
}
