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
}
