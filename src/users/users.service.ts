import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal } from '../common/decimal.js';
import { DomainError, NotFound, ValidationFailed } from '../common/error-codes.js';
import type { AddCreditDto } from './dto/add-credit.dto.js';
import type { CreateUserDto } from './dto/create-user.dto.js';
import type { CreditBalanceDto, UserResponseDto } from './dto/user-response.dto.js';

const UNIQUE_VIOLATION = '23505';

const USER_SQL = `
SELECT u.id, u.email, u.credit_plan, u.credit_limit::text, u.created_at,
  c.paid::text, c.free::text, c.free_expires_at,
  (c.paid + CASE WHEN c.free_expires_at IS NULL OR c.free_expires_at > now() THEN c.free ELSE 0 END)::text AS remaining
FROM users u JOIN user_credits c ON c.user_id = u.id
WHERE u.id = $1`;

interface UserRow {
  id: string;
  email: string | null;
  credit_plan: 'prepaid' | 'invoice';
  credit_limit: string | null;
  created_at: Date;
  paid: string;
  free: string;
  free_expires_at: Date | null;
  remaining: string;
}

@Injectable()
export class UsersService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(dto: CreateUserDto): Promise<UserResponseDto> {
    try {
      const id = await this.dataSource.transaction(async (manager) => {
        const [user]: { id: string }[] = await manager.query(
          `INSERT INTO users (email, credit_plan, credit_limit) VALUES ($1, $2, $3::numeric) RETURNING id`,
          [dto.email ?? null, dto.credit_plan ?? 'prepaid', numberText(dto.credit_limit)],
        );
        await manager.query('INSERT INTO user_credits (user_id) VALUES ($1)', [user.id]);
        return user.id;
      });
      return this.get(id);
    } catch (error) {
      if ((error as { driverError?: { code?: string } }).driverError?.code === UNIQUE_VIOLATION) {
        throw new DomainError('conflict', 'A user with this email already exists');
      }
      throw error;
    }
  }

  async get(
    id: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<UserResponseDto> {
    const [row]: UserRow[] = await manager.query(USER_SQL, [id]);
    if (!row) throw new NotFound('User');
    return {
      id: row.id,
      email: row.email,
      credit_plan: row.credit_plan,
      credit_limit: Decimal.of(row.credit_limit),
      credit: balance(row),
      created_at: row.created_at,
    };
  }

  /** Adds credit in one atomic statement; free credit past its expiry is replaced, not topped up. */
  async addCredit(userId: string, dto: AddCreditDto): Promise<CreditBalanceDto> {
    const kind = dto.kind ?? 'paid';
    if (kind === 'paid' && dto.expires_at !== undefined) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'only free credit expires' }]);
    }
    if (dto.expires_at !== undefined && new Date(dto.expires_at).getTime() <= Date.now()) {
      throw new ValidationFailed([{ field: 'expires_at', message: 'must be in the future' }]);
    }
    const amount = String(dto.amount);
    const sql =
      kind === 'paid'
        ? `UPDATE user_credits SET paid = paid + $2::numeric, updated_at = now() WHERE user_id = $1`
        : `UPDATE user_credits SET
             free = CASE WHEN free_expires_at IS NOT NULL AND free_expires_at <= now()
                         THEN $2::numeric ELSE free + $2::numeric END,
             free_expires_at = $3::timestamptz,
             updated_at = now()
           WHERE user_id = $1`;
    return this.dataSource.transaction(async (manager) => {
      const params = kind === 'paid' ? [userId, amount] : [userId, amount, dto.expires_at ?? null];
      const [, affected]: [unknown, number] = await manager.query(sql, params);
      if (affected === 0) throw new NotFound('User');
      return (await this.get(userId, manager)).credit;
    });
  }
}

function balance(
  row: Pick<UserRow, 'paid' | 'free' | 'free_expires_at' | 'remaining'>,
): CreditBalanceDto {
  return {
    paid: new Decimal(row.paid),
    free: new Decimal(row.free),
    free_expires_at: row.free_expires_at,
    remaining: new Decimal(row.remaining),
  };
}

function numberText(value: number | null | undefined): string | null {
  return value === undefined || value === null ? null : String(value);
}
