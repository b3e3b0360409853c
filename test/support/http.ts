import { ADMIN_TOKEN } from './test-app.js';

export interface HttpResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  /** Sent as is, with `content-type: application/json` unless headers say otherwise. */
  raw?: string;
}

/** Real HTTP against the listening service. */
export class Http {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let payload: string | undefined;
    if (options.raw !== undefined || options.body !== undefined) {
      payload = options.raw ?? JSON.stringify(options.body);
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let body: any = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  post<T = any>(path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.request<T>('POST', path, { body, headers });
  }

  admin<T = any>(method: string, path: string, body?: unknown) {
    return this.request<T>(method, `/api/admin${path}`, {
      body,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
  }
}
