import { randomUUID } from 'node:crypto';
import { seedUsageBody } from './factories.js';

const LOG_USAGE = '/api/guard/log-usage';

/** Whose usage a call logs: the headers it sends and the rows it must charge. */
export interface UsageLane {
  name: string;
  headers: Record<string, string>;
  apiKeyId: string;
  payerUserId: string;
  organizationId: string | null;
}

export interface UsageCall {
  requestId: string;
  lane: UsageLane;
  /** Sent unchanged on every attempt. */
  body: Record<string, unknown>;
}

/** One HTTP attempt; times are `performance.now()`. */
export interface Attempt {
  requestId: string;
  /** The instance it was sent to. */
  baseUrl: string;
  started: number;
  ended: number;
  /** Null when no HTTP answer came (connection refused or reset, timeout). */
  status: number | null;
  error?: string;
  text: string;
  /** The answer carried `Idempotent-Replayed: true`. */
  replayed: boolean;
  /** The answer's `Retry-After` and `Connection` headers (null when absent). */
  retryAfter: string | null;
  connection: string | null;
}

/** The 201 a call ended with. */
export interface Acknowledgement {
  call: UsageCall;
  text: string;
  id: string;
  /** `cost.total` as written in the JSON text, not parsed into a float. */
  total: string;
  replayed: boolean;
  attempts: number;
}

export interface UsageLoadOptions {
  calls: number;
  clients: number;
  /** No attempt starts after this, counted from `run()`. */
  deadlineMs: number;
  /** An attempt without an answer by then counts as a hang. */
  requestTimeoutMs?: number;
  /**
   * Other instances, as a load balancer would have them: after an attempt that is retried, a
   * client sends its next attempts to the next instance of [baseUrl, ...failover].
   */
  failover?: string[];
}

/** Statuses a client retries with the same request_id and body. */
export function isRetried(status: number | null): boolean {
  return status === null || status === 409 || status >= 500;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Concurrent model servers logging usage, each call with a request_id of its own. A client
 * retries a call (same request_id, same body) on a network error, a 5xx or a 409 until it gets
 * a 201, with a short backoff, until the deadline; any other answer ends the call as refused.
 */
export class UsageLoad {
  readonly calls: UsageCall[];
  readonly attempts: Attempt[] = [];
  readonly acknowledged = new Map<string, Acknowledgement>();
  /** Calls answered with a status that is not retried and is not 201. */
  readonly refused = new Map<string, Attempt>();
  private readonly upstreams: string[];
  /** Per client, the index in `upstreams` of the instance it sends to. */
  private readonly upstream: number[] = [];
  private started = 0;
  private finished = false;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly baseUrl: string,
    lanes: UsageLane[],
    private readonly options: UsageLoadOptions,
  ) {
    this.upstreams = [baseUrl, ...(options.failover ?? [])];
    const prefix = randomUUID().slice(0, 8);
    this.calls = Array.from({ length: options.calls }, (_, i) => ({
      requestId: `fault-${prefix}-${i}`,
      lane: lanes[i % lanes.length],
      body: seedUsageBody({
        request_id: `fault-${prefix}-${i}`,
        input_tokens: 100 + (i % 37) * 3,
        output_tokens: 20 + (i % 11) * 7,
      }),
    }));
  }

  /** Runs every client to its end: all its calls answered, or the deadline passed. */
  run(): Promise<void> {
    this.started = performance.now();
    const { clients } = this.options;
    this.running = Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let i = client; i < this.calls.length && !this.stopped; i += clients)
          await this.send(this.calls[i], client);
      }),
    ).then(() => {
      this.finished = true;
    });
    return this.running;
  }

  /** Ends the clients after their current attempt (a test that failed half-way). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Sends the given calls once more, one attempt each, and answers those attempts in order. */
  async resend(calls: UsageCall[], baseUrl = this.baseUrl): Promise<Attempt[]> {
    const answers: Attempt[] = new Array(calls.length);
    const { clients } = this.options;
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let i = client; i < calls.length; i += clients)
          answers[i] = await this.attempt(calls[i], baseUrl);
      }),
    );
    return answers;
  }

  /** Resolves once `count` calls have their 201; throws if the load ends or stalls first. */
  async until(count: number, timeoutMs = 60_000): Promise<void> {
    const started = performance.now();
    while (this.acknowledged.size < count) {
      if (this.finished) throw new Error(`load ended with ${this.acknowledged.size} acknowledged`);
      if (performance.now() - started > timeoutMs)
        throw new Error(`only ${this.acknowledged.size} of ${count} acknowledged in time`);
      await sleep(5);
    }
  }

  /** Attempts that started in [from, to). */
  attemptsBetween(from: number, to: number): Attempt[] {
    return this.attempts.filter((attempt) => attempt.started >= from && attempt.started < to);
  }

  summary(): string {
    const byStatus = new Map<string, number>();
    for (const attempt of this.attempts) {
      const key = attempt.status === null ? `no answer (${attempt.error})` : String(attempt.status);
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    }
    const replayed = [...this.acknowledged.values()].filter((ack) => ack.replayed).length;
    const slowest = Math.max(...this.attempts.map((attempt) => attempt.ended - attempt.started));
    return (
      `${this.calls.length} calls, ${this.acknowledged.size} acknowledged (${replayed} by replay), ` +
      `${this.attempts.length} attempts: ` +
      [...byStatus].map(([status, n]) => `${status} × ${n}`).join(', ') +
      `; slowest attempt ${Math.round(slowest)} ms`
    );
  }

  private async send(call: UsageCall, client: number): Promise<void> {
    const deadline = this.started + this.options.deadlineMs;
    for (let attempt = 1; performance.now() < deadline && !this.stopped; attempt++) {
      const result = await this.attempt(call, this.upstreams[this.upstream[client] ?? 0]);
      this.attempts.push(result);
      if (result.status === 201) {
        const body = JSON.parse(result.text) as { id: string };
        this.acknowledged.set(call.requestId, {
          call,
          text: result.text,
          id: body.id,
          total: /"total":([-+.\deE]+)/.exec(result.text)?.[1] ?? 'missing',
          replayed: result.replayed,
          attempts: attempt,
        });
        return;
      }
      if (!isRetried(result.status)) {
        this.refused.set(call.requestId, result);
        return;
      }
      if (result.status !== 409)
        this.upstream[client] = ((this.upstream[client] ?? 0) + 1) % this.upstreams.length;
      await sleep(Math.min(20 * 2 ** (attempt - 1), 200) + Math.random() * 20);
    }
  }

  private async attempt(call: UsageCall, baseUrl: string): Promise<Attempt> {
    const started = performance.now();
    try {
      const response = await fetch(`${baseUrl}${LOG_USAGE}`, {
        method: 'POST',
        headers: { ...call.lane.headers, 'content-type': 'application/json' },
        body: JSON.stringify(call.body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 15_000),
      });
      const text = await response.text();
      return {
        requestId: call.requestId,
        baseUrl,
        started,
        ended: performance.now(),
        status: response.status,
        text,
        replayed: response.headers.get('idempotent-replayed') === 'true',
        retryAfter: response.headers.get('retry-after'),
        connection: response.headers.get('connection'),
      };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return {
        requestId: call.requestId,
        baseUrl,
        started,
        ended: performance.now(),
        status: null,
        error: cause?.code ?? (error as Error).name,
        text: '',
        replayed: false,
        retryAfter: null,
        connection: null,
      };
    }
  }
}
