import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AdminActor } from '../audit/admin-actor.js';
import { AdminChanges } from '../audit/admin-changes.service.js';
import { Decimal } from '../common/decimal.js';
import { NotFound } from '../common/error-codes.js';
import type { ModelPriceResponseDto } from './dto/model-price-response.dto.js';
import type { ModelResponseDto } from './dto/model-response.dto.js';
import type { PutModelDto } from './dto/put-model.dto.js';

interface ModelRow {
  id: string;
  unique_name: string;
  enabled: boolean;
  price_million_input: string;
  price_million_output: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, unique_name, enabled, price_million_input::text, price_million_output::text,
  created_at, updated_at`;

@Injectable()
export class ModelsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly changes: AdminChanges,
  ) {}

  /** Creates the model or replaces its prices (and `enabled`, when given), atomically. */
  put(actor: AdminActor, uniqueName: string, dto: PutModelDto): Promise<ModelResponseDto> {
    const prices = [String(dto.price_million_input), String(dto.price_million_output)];
    return this.changes.run(actor, async (change) => {
      // Create, or else lock the existing row: concurrent first PUTs make one creation.
      const [created]: ModelRow[] = await change.manager.query(
        `INSERT INTO models (unique_name, enabled, price_million_input, price_million_output)
         VALUES ($1, COALESCE($2::boolean, true), $3::numeric, $4::numeric)
         ON CONFLICT (unique_name) DO NOTHING
         RETURNING ${COLUMNS}`,
        [uniqueName, dto.enabled ?? null, ...prices],
      );
      let before: ModelResponseDto | undefined;
      let row = created;
      if (!created) {
        const [previous]: ModelRow[] = await change.manager.query(
          `SELECT ${COLUMNS} FROM models WHERE unique_name = $1 FOR UPDATE`,
          [uniqueName],
        );
        before = toResponse(previous);
        // An UPDATE answers [rows, count] through TypeORM.
        [[row]] = await change.manager.query(
          `UPDATE models SET enabled = COALESCE($2::boolean, enabled),
             price_million_input = $3::numeric, price_million_output = $4::numeric, updated_at = now()
           WHERE unique_name = $1
           RETURNING ${COLUMNS}`,
          [uniqueName, dto.enabled ?? null, ...prices],
        );
      }
      const repriced =
        !before ||
        before.price_million_input.text !== new Decimal(row.price_million_input).text ||
        before.price_million_output.text !== new Decimal(row.price_million_output).text;
      if (repriced) {
        // A new version from now on; usage already recorded keeps the prices it was charged.
        await change.manager.query(
          `INSERT INTO model_prices (model_id, price_million_input, price_million_output)
           VALUES ($1, $2::numeric, $3::numeric)`,
          [row.id, ...prices],
        );
      }
      const after = toResponse(row);
      await change.audit({
        action: created ? 'model.create' : 'model.update',
        targetType: 'model',
        targetId: uniqueName,
        before,
        after,
      });
      await change.invalidate('model');
      return after;
    });
  }

  /** Every price the model has had, newest first. */
  async prices(uniqueName: string): Promise<ModelPriceResponseDto[]> {
    const rows: {
      price_million_input: string;
      price_million_output: string;
      effective_from: Date;
      effective_until: Date | null;
    }[] = await this.dataSource.query(
      `SELECT p.price_million_input::text, p.price_million_output::text, p.effective_from,
         lead(p.effective_from) OVER (ORDER BY p.effective_from, p.id) AS effective_until
       FROM models m JOIN model_prices p ON p.model_id = m.id
       WHERE m.unique_name = $1
       ORDER BY p.effective_from DESC, p.id DESC`,
      [uniqueName],
    );
    if (rows.length === 0) throw new NotFound('Model');
    return rows.map((row) => ({
      price_million_input: new Decimal(row.price_million_input),
      price_million_output: new Decimal(row.price_million_output),
      effective_from: row.effective_from,
      effective_until: row.effective_until,
    }));
  }

  async list(): Promise<ModelResponseDto[]> {
    const rows: ModelRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM models ORDER BY unique_name`,
    );
    return rows.map(toResponse);
  }
}

function toResponse(row: ModelRow): ModelResponseDto {
  return {
    id: row.id,
    unique_name: row.unique_name,
    enabled: row.enabled,
    price_million_input: new Decimal(row.price_million_input),
    price_million_output: new Decimal(row.price_million_output),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
