import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdminActor } from '../audit/admin-actor.js';
import { AdminChanges } from '../audit/admin-changes.service.js';
import { Decimal, numericParam } from '../common/decimal.js';
import type { PageQueryDto } from '../common/dto/page.query.dto.js';
import { DomainError, NotFound, ValidationFailed } from '../common/error-codes.js';
import { decodeCursor, encodeCursor } from '../common/keyset.js';
import { isUniqueViolation } from '../database/pg-errors.js';
import { standingInvalidation } from '../auth-cache/invalidation.js';
import { grantCreditSql, payerStandingQuery } from '../ledger/ledger-sql.js';
import type { AddCreditDto } from './dto/add-credit.dto.js';
import type { CreateUserDto } from './dto/create-user.dto.js';
import type { UpdateUserDto } from './dto/update-user.dto.js';
import type { CreditBalanceDto, UserPageDto, UserResponseDto } from './dto/user-response.dto.js';

const USER_SELECT = `
SELECT u.id, u.email, u.credit_plan, u.credit_limit::text, u.created_at, u.updated_at,
  u.created_at::text AS created_at_text,
  c.paid::text, c.free::text, c.free_expires_at, c.reserved::text, standing.remaining
FROM users u JOIN user_credits c ON c.user_id = u.id
CROSS JOIN LATERAL (${payerStandingQuery('u.id')}) standing`;

interface UserRow {
  id: string;
  email: string | null;
  credit_plan: 'prepaid' | 'invoice';
  credit_limit: string | null;
  created_at: Date;
  updated_at: Date;
  created_at_text: string;
  paid: string;
  free: string;
  free_expires_at: Date | null;
  reserved: string;
  remaining: string | null;
}

@Injectable()
export class UsersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly changes: AdminChanges,
  ) {}

  create(actor: AdminActor, dto: CreateUserDto): Promise<UserResponseDto> {
    return this.uniqueEmail(() =>
      this.changes.run(actor, async (change) => {
        const [{ id }]: { id: string }[] = await change.manager.query(
          `INSERT INTO users (email, credit_plan, credit_limit) VALUES ($1, $2, $3::numeric) RETURNING id`,
          [dto.email ?? null, dto.credit_plan ?? 'prepaid', numericParam(dto.credit_limit)],
        );
        await change.manager.query('INSERT INTO user_credits (user_id) VALUES ($1)', [id]);
        const after = await this.get(id, change.manager);
        await change.audit({ action: 'user.create', targetType: 'user', targetId: id, after });
        return after;
      }),
    );
  }

  async get(
    id: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<UserResponseDto> {
    const [row]: UserRow[] = await manager.query(`${USER_SELECT} WHERE u.id = $1`, [id]);
    if (!row) throw new NotFound('User');
    return toResponse(row);
  }

  /** Oldest first, by keyset on (created_at, id): pages stay stable while users are added. */
  async list(query: PageQueryDto): Promise<UserPageDto> {
    const limit = query.limit ?? 100;
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const rows: UserRow[] = await this.dataSource.query(
      `${USER_SELECT}
       WHERE $1::timestamptz IS NULL OR (u.created_at, u.id) > ($1::timestamptz, $2::uuid)
       ORDER BY u.created_at, u.id LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toResponse),
      next_cursor: rows.length > limit ? encodeCursor(last.created_at_text, last.id) : null,
    };
  }

  /** Changes email, plan or monthly limit; the guard sees it on the next request. */
  update(actor: AdminActor, id: string, dto: UpdateUserDto): Promise<UserResponseDto> {
    return this.uniqueEmail(() =>
      this.changes.run(actor, async (change) => {
        const [locked] = await change.manager.query(
          'SELECT 1 FROM users WHERE id = $1 FOR UPDATE',
          [id],
        );
        if (!locked) throw new NotFound('User');
        const before = await this.get(id, change.manager);
        await change.manager.query(
          `UPDATE users SET
             email = CASE WHEN $2 THEN $3 ELSE email END,
             credit_plan = COALESCE($4, credit_plan),
             credit_limit = CASE WHEN $5 THEN $6::numeric ELSE credit_limit END,
             updated_at = now()
           WHERE id = $1`,
          [
            id,
            dto.email !== undefined,
            dto.email ?? null,
            dto.credit_plan ?? null,
            dto.credit_limit !== undefined,
            numericParam(dto.credit_limit),
          ],
        );
        const after = await this.get(id, change.manager);
        await change.audit({
          action: 'user.update',
          targetType: 'user',
          targetId: id,
          before,
          after,
        });
        await change.invalidate(standingInvalidation('payer', id));
        return after;
      }),
    );
  }

  /** Adds credit in one atomic statement; free credit past its expiry is replaced, not topped up. */
  addCredit(actor: AdminActor, userId: string, dto: AddCreditDto): Promise<CreditBalanceDto> {
    const kind = dto.kind ?? 'paid';
    if (kind === 'paid' && dto.expires_at !== undefined) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'only free credit expires' }]);
    }
    if (dto.expires_at !== undefined && new Date(dto.expires_at).getTime() <= Date.now()) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'must be in the future' }]);
    }
    return this.changes.run(actor, async (change) => {
      const [locked] = await change.manager.query(
        'SELECT 1 FROM user_credits WHERE user_id = $1 FOR UPDATE',
        [userId],
      );
      if (!locked) throw new NotFound('User');
      const before = (await this.get(userId, change.manager)).credit;
      const amount = String(dto.amount);
      await change.manager.query(
        grantCreditSql(kind),
        kind === 'paid' ? [userId, amount] : [userId, amount, dto.expires_at ?? null],
      );
      const after = (await this.get(userId, change.manager)).credit;
      await change.audit({
        action: `user.credit.${kind}`,
        targetType: 'user',
        targetId: userId,
        before: { credit: before },
        after: {
          credit: after,
          added: { amount: dto.amount, kind, expires_at: dto.expires_at ?? null },
        },
      });
      await change.invalidate(standingInvalidation('payer', userId));
      return after;
    });
  }

  private async uniqueEmail<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new DomainError('conflict', 'A user with this email already exists');
      }
      throw error;
    }
  }
}

function toResponse(row: UserRow): UserResponseDto {
  return {
    id: row.id,
    email: row.email,
    credit_plan: row.credit_plan,
    credit_limit: Decimal.of(row.credit_limit),
    credit: {
      paid: new Decimal(row.paid),
      free: new Decimal(row.free),
      free_expires_at: row.free_expires_at,
      reserved: new Decimal(row.reserved),
      remaining: Decimal.of(row.remaining),
    },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
