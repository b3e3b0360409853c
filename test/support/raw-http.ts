import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Written as is on the request line (after UTF-8 encoding): no normalisation, no escaping. */
  target: string;
  /** In order, duplicates kept; values written byte for byte (latin1), control characters too. */
  headers: [string, string][];
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

const TIMEOUT_MS = 10_000;

/**
 * One HTTP/1.1 exchange over a fresh TCP connection, for requests `fetch` refuses to send
 * (control characters in headers, duplicated headers, raw bytes in the path). The connection
 * is closed once the answer is whole.
 */
export function rawRequest(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = request.body ?? Buffer.alloc(0);
  const framed = request.headers.some(([name]) =>
    /^(content-length|transfer-encoding)$/i.test(name),
  );
  const lines = [
    `Host: ${url.host}`,
    ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ...(framed || request.body === undefined ? [] : [`Content-Length: ${body.length}`]),
  ];
  const head = Buffer.concat([
    Buffer.from(`${request.method} ${request.target} HTTP/1.1\r\n`, 'utf8'),
    Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'),
  ]);

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname);
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`no answer within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    const settle = (response: RawResponse) => {
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(response);
    };
    // The connection is kept alive, so the server reads (and drops) a body it does not want
    // instead of resetting the connection under an answer it has already sent.
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parseResponse(Buffer.concat(chunks), false, request.method === 'HEAD');
      if (parsed && !settled) settle(parsed);
    });
    const closed = (error?: Error) => {
      if (settled) return;
      const received = Buffer.concat(chunks);
      const parsed = parseResponse(received, true, request.method === 'HEAD');
      if (parsed) return settle(parsed);
      settled = true;
      clearTimeout(timer);
      reject(
        new Error(
          `incomplete answer (${received.length} bytes${error ? `, ${error.message}` : ''}): ${received.toString('latin1').slice(0, 300)}`,
        ),
      );
    };
    socket.on('end', () => closed());
    socket.on('close', () => closed());
    socket.on('error', (error) => closed(error));
    socket.write(head);
    if (body.length > 0) socket.write(body);
  });
}

/** The answer in `received`, once it is whole (`closed`: the server has closed the connection). */
function parseResponse(received: Buffer, closed: boolean, head = false): RawResponse | null {
  let data = received;
  // Interim answers (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1'))) {
    const interimEnd = data.indexOf('\r\n\r\n');
    if (interimEnd < 0) return null;
    data = data.subarray(interimEnd + 4);
  }
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...headerLines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return null;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let payload = data.subarray(end + 4);
  if (head) {
    payload = Buffer.alloc(0);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const decoded = decodeChunked(payload);
    if (!decoded) return null;
    payload = decoded;
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (payload.length < length) return null;
    payload = payload.subarray(0, length);
  } else if (!closed && !/^(204|304)$/.test(match[1])) {
    return null;
  }
  const text = payload.toString('utf8');
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(match[1]), headers, text, json };
}

function decodeChunked(data: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size) return null;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}
