/** One HTTP exchange, timed, with the headers the fault tests look at. */
export interface TimedAnswer {
  /** Null when no HTTP answer came (connection refused or reset, timeout). */
  status: number | null;
  error?: string;
  ms: number;
  text: string;
  body: Record<string, unknown> | undefined;
  retryAfter: string | null;
  connection: string | null;
  /** The answer carried `Idempotent-Replayed: true`. */
  replayed: boolean;
}

/** Sends one request (JSON body when given) and answers what came back, and how fast. */
export async function timedRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    timeoutMs?: number;
  } = {},
): Promise<TimedAnswer> {
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    return {
      status: response.status,
      ms: performance.now() - started,
      text,
      body,
      retryAfter: response.headers.get('retry-after'),
      connection: response.headers.get('connection'),
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return {
      status: null,
      error: cause?.code ?? (error as Error).name,
      ms: performance.now() - started,
      text: '',
      body: undefined,
      retryAfter: null,
      connection: null,
      replayed: false,
    };
  }
}

/** The contract's 503 (`service_unavailable`, `Retry-After`) with exactly its four fields. */
export function isContract503(
  answer: { status: number | null; text: string; retryAfter: string | null },
  message?: string,
): boolean {
  if (answer.status !== 503 || answer.retryAfter === null || !/^\d+$/.test(answer.retryAfter))
    return false;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.text) as Record<string, unknown>;
  } catch {
    return false;
  }
  return (
    JSON.stringify(Object.keys(body).sort()) === '["code","message","request_id","status"]' &&
    body.status === 503 &&
    body.code === 'service_unavailable' &&
    (message === undefined || body.message === message) &&
    typeof body.request_id === 'string'
  );
}
