const messages = [
  {
    role: 'system',
    content:
      'You are a poetic assistant, skilled in explaining complex programming concepts with creative flair.',
  },
  {
    role: 'user',
    content: 'Compose a poem that explains the concept of recursion in programming.',
  },
];

/** The request bodies of the original guard document, as OpenAPI examples. */
export const SEED_AUTH_BODY = { model: 'cogvlm-chat-17b', messages };

export const SEED_USAGE_BODY = {
  model: 'cogvlm-chat-17b',
  temperature: 0.7,
  top_p: 0.9,
  input_cost: 0.5,
  output_cost: 0.3,
  total_cost: 0.8,
  input_tokens: 100,
  output_tokens: 80,
  max_tokens: 200,
  messages,
};
