import { parseExactJson } from '../../src/dashboard/page/exact-json';

/** An answer of the admin API other than 2xx, with the contract's error body when it has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The admin API on this origin. The token lives in this object only (never in storage, a
 * cookie or the URL): a reload forgets it. Numbers in answers come back as their exact text.
 */
export class AdminApi {
  constructor(private readonly token: string) {}

  get<T>(path: string, params: Record<string, string | undefined> = {}, signal?: AbortSignal) {
    return this.request<T>('GET', withQuery(path, params), undefined, signal);
  }

  post<T>(path: string, body: unknown, signal?: AbortSignal) {
    return this.request<T>('POST', path, body, signal);
  }

  delete(path: string, signal?: AbortSignal) {
    return this.request<void>('DELETE', path, undefined, signal);
  }

  private async request<T>(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, text);
    return (text ? parseExactJson(text) : undefined) as T;
  }
}

function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

function errorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof body.message === 'string') {
      return new ApiError(status, body.message, typeof body.code === 'string' ? body.code : null);
    }
  } catch {
    // Not the contract's JSON body (a proxy's page, say): the status says enough.
  }
  return new ApiError(status, `The server answered ${status}`, null);
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** A page of a keyset-paginated list. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
