import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics/metrics.service.js';

/** Counts each answered guard call by route pattern, HTTP status and decision. */
export interface GuardDecisionSink {
  record(route: string, status: number, decision: string): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the request log line's numbers are counted too. */
    guardMetrics?: Metrics;
    /** Where each guard decision is counted for the decision report. */
    guardDecisionSink?: GuardDecisionSink;
  }
}

/** What handling a request leaves on it for its log line. */
export interface LoggedRequest extends FastifyRequest {
  /** On guard routes: `ok`, or the code of the error the call was refused with. */
  guardDecision?: string;
  /** The contract's error code, when the answer was an error. */
  errorCode?: string;
}

/** Records the error code answered to `request`; a guard route's decision becomes that code. */
export function noteErrorCode(request: FastifyRequest, code: string): void {
  const logged = request as LoggedRequest;
  logged.errorCode = code;
  if (logged.guardDecision !== undefined) logged.guardDecision = code;
}

const logger = new Logger('Http');

/**
 * One info line per request once its answer is sent: id, method, route pattern (never the
 * raw URL, whose path or query may hold ids or secrets), status, latency and, on guard routes,
 * the decision. Headers are logged as pino censors them; bodies never. The same numbers go to
 * the request metrics, by route pattern (`unmatched` when no route matched), and a guard
 * route's decision to the decision counts too.
 */
export function logRequest(request: LoggedRequest, reply: FastifyReply): void {
  const route = request.routeOptions.url ?? null;
  if (request.guardDecision !== undefined) {
    request.server.guardDecisionSink?.record(
      route ?? 'unmatched',
      reply.statusCode,
      request.guardDecision,
    );
  }
  const metrics = request.server.guardMetrics;
  if (metrics) {
    const labels = {
      method: request.method,
      route: route ?? 'unmatched',
      status: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (request.guardDecision !== undefined) {
      metrics.guardDecisions.inc({ route: labels.route, decision: request.guardDecision });
    }
  }
  // Below info (LOG_LEVEL=warn and up) the line is not even built.
  if (!Logger.isLevelEnabled('log')) return;
  logger.log({
    msg: 'request',
    request_id: request.id,
    method: request.method,
    route,
    status: reply.statusCode,
    latency_ms: Math.round(reply.elapsedTime * 100) / 100,
    ...(request.guardDecision !== undefined && { decision: request.guardDecision }),
    ...(request.errorCode !== undefined && { code: request.errorCode }),
    headers: request.headers,
  });
}

/**
 * Logs and counts every routed request; Fastify's own errors before routing log theirs in
 * `sendError`.
 */
export function registerRequestLog(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.decorate('guardMetrics', metrics);
  fastify.addHook('onResponse', (request, reply, done) => {
    logRequest(request, reply);
    done();
  });
}

/** Hands every guard decision answered from now on to `sink` (one per application). */
export function registerDecisionSink(fastify: FastifyInstance, sink: GuardDecisionSink): void {
  fastify.decorate('guardDecisionSink', sink);
}
