import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sqlState } from '../database/pg-errors.js';
import { noteErrorCode } from './request-log.js';
import { DomainError, ERRORS, type ErrorCode, type FieldError } from './error-codes.js';

interface ErrorBody {
  status: number;
  message: string;
  code: string;
  request_id: string;
  errors?: FieldError[];
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
  503: 'service_unavailable',
};

// Connection-level failures: the database is down or unreachable, not a bug of ours.
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
]);
// Connection failures, resources exhausted, shutdown, and lock waits past lock_timeout.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P|55P03)/;

/** Postgres refused a timestamp a client sent (well-formed, but out of its range). */
function isBadTimestamp(error: unknown): boolean {
  const code = sqlState(error);
  return code === '22007' || code === '22008';
}

function isDependencyDown(error: unknown): boolean {
  // Not `instanceof Error`: errors from the driver's sockets may come from another realm.
  if (typeof error !== 'object' || error === null) return false;
  const code = sqlState(error) ?? '';
  const message = (error as { message?: string }).message;
  return (
    UNAVAILABLE_ERRNO.has(code) ||
    UNAVAILABLE_SQLSTATE.test(code) ||
    /Connection terminated|timeout exceeded when trying to connect|canceling statement due to statement timeout|not queryable/i.test(
      message ?? '',
    )
  );
}

/**
 * Turns anything thrown while handling a request into the contract's error body. Domain
 * errors carry their code; framework errors map by status; anything else is logged with its
 * stack and answered as a bare 500 (or a 503 when Postgres is unreachable).
 */
export function toErrorBody(
  error: unknown,
  requestId: string,
  logger: Logger,
): {
  body: ErrorBody;
  retryAfter?: number;
} {
  if (error instanceof DomainError) {
    const body: ErrorBody = {
      status: error.status,
      message: error.message,
      code: error.code,
      request_id: requestId,
    };
    if (error.details.errors) body.errors = error.details.errors;
    return { body, retryAfter: error.details.retryAfterSeconds };
  }

  const status =
    error instanceof HttpException
      ? error.getStatus()
      : ((error as { statusCode?: number } | null)?.statusCode ?? 500);
  if (status >= 400 && status < 500) {
    const fastifyCode = (error as { code?: string }).code;
    let code: ErrorCode | string = CODE_BY_STATUS[status] ?? 'bad_request';
    let message = error instanceof Error ? error.message : ERRORS.bad_request.message;
    if (status === 404 && error instanceof HttpException) {
      code = 'route_not_found';
      message = ERRORS.route_not_found.message;
    } else if (status === 413) {
      message = ERRORS.payload_too_large.message;
    } else if (status === 415) {
      message = ERRORS.unsupported_media_type.message;
    } else if (fastifyCode === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      code = 'bad_request';
    }
    return { body: { status, message, code, request_id: requestId } };
  }

  if (isBadTimestamp(error)) {
    return {
      body: {
        status: 400,
        message: 'A date or time is out of range',
        code: 'bad_request',
        request_id: requestId,
      },
    };
  }

  if (isDependencyDown(error)) {
    logger.warn({
      msg: `Database unavailable: ${error instanceof Error ? error.message : String(error)}`,
      request_id: requestId,
    });
    return {
      body: { ...ERRORS.service_unavailable, code: 'service_unavailable', request_id: requestId },
      retryAfter: 1,
    };
  }
  logger.error({
    msg: error instanceof Error ? error.message : String(error),
    request_id: requestId,
    stack: error instanceof Error ? error.stack : undefined,
  });
  return {
    body: { ...ERRORS.internal_error, code: 'internal_error', request_id: requestId },
  };
}

export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  error: unknown,
  logger: Logger,
): void {
  const { body, retryAfter } = toErrorBody(error, String(request.id), logger);
  noteErrorCode(request, body.code);
  if (body.status === 413) drainRefusedBody(request, reply);
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  void reply.header('x-request-id', String(request.id));
  void reply.status(body.status).type('application/json; charset=utf-8').send(body);
}

// Most of a refused body the server reads (and drops) so that its 413 reaches the client.
const MAX_DRAINED_BYTES = 32 * 1024 * 1024;

/**
 * Fastify closes the connection once it refuses a body as too large. A client still uploading
 * it then gets a reset, often before it has read the 413. When the body has a declared length
 * (up to a bound), the connection is kept instead: Node reads the rest of the body and drops
 * it, and the answer arrives. Larger or unbounded (chunked) bodies still close at once.
 */
function drainRefusedBody(request: FastifyRequest, reply: FastifyReply): void {
  const declared = Number(request.headers['content-length']);
  if (request.raw.complete || !Number.isSafeInteger(declared) || declared > MAX_DRAINED_BYTES) {
    return;
  }
  reply.removeHeader('connection');
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(
      http.getResponse<FastifyReply>(),
      http.getRequest<FastifyRequest>(),
      error,
      this.logger,
    );
  }
}

/** Errors of Node's HTTP parser, met before a request exists (so before Fastify and Nest). */
const PARSER_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'payload_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};
const MALFORMED_REQUEST = { status: 400, code: 'bad_request', message: 'Malformed HTTP request' };

// How long a refused connection keeps reading (and dropping) what the client still sends.
const LINGER_MS = 2000;
const answeredSockets = new WeakSet<Socket>();

/**
 * Answers what Node's HTTP parser refuses (headers over the size limit, control characters,
 * broken framing) with the contract's error body and a request id of its own, then closes the
 * connection. Fastify's `clientErrorHandler`. The close lingers: closing while the client is
 * still sending its body would reset the connection, and a reset often destroys the answer
 * before the client reads it.
 */
export function writeClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer; an answered one is only being drained (the parser
  // fails again on every chunk that still arrives).
  if (error.code === 'ECONNRESET' || socket.destroyed || answeredSockets.has(socket)) return;
  // As Node itself does: never write into an answer that has already started on this socket.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy(error);
    return;
  }
  const known = PARSER_ERRORS[error.code ?? ''];
  const { status, code, message } = known ? { ...ERRORS[known], code: known } : MALFORMED_REQUEST;
  const requestId = randomUUID();
  const body = JSON.stringify({ status, message, code, request_id: requestId });
  answeredSockets.add(socket);
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `X-Request-Id: ${requestId}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
