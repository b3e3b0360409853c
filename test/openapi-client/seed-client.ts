/**
 * The original guard document's two Python clients, in TypeScript, typed by the types that
 * openapi-typescript generates from the service's OpenAPI document (`npm run openapi:check`
 * writes them to dist/openapi-check/ and type-checks this file against them). The bodies are
 * the document's, copied literally: if the OpenAPI document stops accepting them, this file
 * stops compiling. test/openapi.e2e-spec.ts runs it against the service.
 */
import type { paths } from '../../dist/openapi-check/schema.js';

type Operation<Path extends keyof paths> = paths[Path]['post'];

export type AuthBody = Operation<'/api/guard/auth'>['requestBody']['content']['application/json'];
export type AuthAnswer =
  Operation<'/api/guard/auth'>['responses'][200]['content']['application/json'];
export type LogUsageBody =
  Operation<'/api/guard/log-usage'>['requestBody']['content']['application/json'];
export type LogUsageAnswer =
  Operation<'/api/guard/log-usage'>['responses'][201]['content']['application/json'];

export interface Credentials {
  baseUrl: string;
  apiKey: string;
  secretKey: string;
}

// prettier-ignore
export const authPayload: AuthBody = {
  "model": "cogvlm-chat-17b",
  "messages": [
    {"role": "system", "content": "You are a poetic assistant, skilled in explaining complex programming concepts with creative flair."},
    {"role": "user", "content": "Compose a poem that explains the concept of recursion in programming."}
  ]
};

// prettier-ignore
export const logUsagePayload: LogUsageBody = {
  "model": "cogvlm-chat-17b",
  "temperature": 0.7,
  "top_p": 0.9,
  "input_cost": 0.5,
  "output_cost": 0.3,
  "total_cost": 0.8,
  "input_tokens": 100,
  "output_tokens": 80,
  "max_tokens": 200,
  "messages": [
    {"role": "system", "content": "You are a poetic assistant, skilled in explaining complex programming concepts with creative flair."},
    {"role": "user", "content": "Compose a poem that explains the concept of recursion in programming."}
  ]
};

async function post<Answer>(
  credentials: Credentials,
  path: keyof paths,
  payload: AuthBody | LogUsageBody,
): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${credentials.baseUrl}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: credentials.apiKey,
      SecretKey: credentials.secretKey,
    },
    body: JSON.stringify(payload),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

/** `authenticate()` of the original document. */
export function authenticate(credentials: Credentials) {
  return post<AuthAnswer>(credentials, '/api/guard/auth', authPayload);
}

/** `log_usage()` of the original document. */
export function logUsage(credentials: Credentials) {
  return post<LogUsageAnswer>(credentials, '/api/guard/log-usage', logUsagePayload);
}
