import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { GuardPrincipal } from '../auth/guard-principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.constants.js';
import { canonicalJson } from '../common/canonical-json.js';
import { hashSecret } from '../common/crypto.js';
import { numericParam } from '../common/decimal.js';
import { DomainError } from '../common/error-codes.js';
import { sqlState } from '../database/pg-errors.js';
import { preparedQuery } from '../database/prepared-query.js';
import { LedgerService } from '../ledger/ledger.service.js';
import type { RecordUsageDto } from './dto/record-usage.dto.js';

export interface RecordedUsage {
  /** The answer as JSON text: built now, or the first answer on a replay. */
  json: string;
  replayed: boolean;
}

const REPLAY_SQL = `
SELECT q.request_hash, r.response
FROM usage_requests q JOIN usage_replays r ON r.usage_event_id = q.usage_event_id
WHERE q.api_key_id = $1 AND q.request_id = $2`;

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Records usage through the ledger: the event and the payer's debit commit together or not at
 * all, the cost comes from the server's own prices, and a `request_id` makes the call
 * idempotent per API key.
 */
@Injectable()
export class UsageService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerService,
  ) {}

  async record(principal: GuardPrincipal, dto: RecordUsageDto): Promise<RecordedUsage> {
    const requestId = dto.request_id ?? null;
    const requestHash = requestId === null ? null : this.requestHash(principal, dto);
    const messages = this.storableMessages(dto.messages);
    let body: string | null;
    try {
      body = await this.ledger.recordUsage({
        id: randomUUID(),
        api_key_id: principal.apiKeyId,
        user_id: principal.userId,
        payer_user_id: principal.payerUserId,
        organization_id: principal.organization?.id ?? null,
        service_client_id: principal.serviceClientId,
        model_id: principal.model.id,
        input_tokens: dto.input_tokens,
        output_tokens: dto.output_tokens,
        max_tokens: dto.max_tokens ?? null,
        temperature: dto.temperature ?? null,
        top_p: dto.top_p ?? null,
        echo: dto.echo ?? null,
        stream: dto.stream ?? null,
        client_input_cost: numericParam(dto.input_cost),
        client_output_cost: numericParam(dto.output_cost),
        client_total_cost: numericParam(dto.total_cost),
        messages: messages.json,
        messages_bytes: messages.bytes,
        request_id: requestId,
        request_hash: requestHash?.toString('hex') ?? null,
        reservation_id: dto.reservation_id ?? null,
      });
    } catch (error) {
      // Waiting past lock_timeout on a request_id: its first call is still in flight.
      if (requestId !== null && sqlState(error) === LOCK_NOT_AVAILABLE)
        throw new DomainError('idempotency_in_flight');
      throw error;
    }
    if (body !== null) return { json: body, replayed: false };

    // The request_id was used before: its first call has committed (the claim waited for it).
    const [first] = await preparedQuery<{ request_hash: Buffer; response: string }>(
      this.dataSource,
      'usage_replay',
      REPLAY_SQL,
      [principal.apiKeyId, requestId],
    );
    if (!first || !requestHash) throw new Error('Usage claim conflicted without a stored request');
    if (!first.request_hash.equals(requestHash)) throw new DomainError('idempotency_key_reused');
    return { json: first.response, replayed: true };
  }

  /** Identifies "the same request": its body and the organization it is billed to. */
  private requestHash(principal: GuardPrincipal, dto: RecordUsageDto): Buffer {
    return hashSecret(
      canonicalJson({
        // A field sent as null is absent: the same request with or without it.
        body: Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== null)),
        organization: principal.organization?.id ?? null,
      }),
    );
  }

  /** `messages` as stored under MESSAGE_STORAGE, and their size as sent. */
  private storableMessages(messages: unknown): { json: string | null; bytes: number | null } {
    if (messages === undefined || messages === null) return { json: null, bytes: null };
    const json = JSON.stringify(messages);
    const bytes = Buffer.byteLength(json, 'utf8');
    const cap = this.config.messagesMaxBytes;
    switch (this.config.messageStorage) {
      case 'none':
        return { json: null, bytes };
      case 'full':
        return { json: bytes <= cap ? json : null, bytes };
      case 'truncate':
        return {
          json: bytes <= cap ? json : JSON.stringify(truncatedMessages(json, bytes, cap)),
          bytes,
        };
    }
  }
}

/**
 * What `truncate` keeps of messages over the cap: the start of their JSON text, cut on a
 * character boundary, in an object whose own JSON stays within the cap.
 */
export function truncatedMessages(json: string, bytes: number, cap: number): object {
  const frame = { truncated: true, bytes, prefix: '' };
  const room = Math.max(0, cap - Buffer.byteLength(JSON.stringify(frame)));
  let prefix = '';
  let used = 0;
  for (const char of json) {
    // JSON escaping can grow a character; count it as it will be written.
    const size = Buffer.byteLength(JSON.stringify(char)) - 2;
    if (used + size > room) break;
    prefix += char;
    used += size;
  }
  return { ...frame, prefix };
}
