import { Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Model } from '../models/model.entity.js';
import { UsageTotals } from './usage-totals.js';

/**
 * Usage of the whole platform per day (UTC) and model, kept in step with every insert, so
 * reports with no narrower filter than the platform read one row per day and model.
 */
@Entity('usage_daily_platform')
export class UsageDailyPlatform extends UsageTotals {
  @PrimaryColumn({ type: 'date', primaryKeyConstraintName: 'usage_daily_platform_pkey' })
  day: string;

  @PrimaryColumn({
    name: 'model_id',
    type: 'uuid',
    primaryKeyConstraintName: 'usage_daily_platform_pkey',
  })
  modelId: string;

  @ManyToOne(() => Model, { nullable: false })
  @JoinColumn({ name: 'model_id', foreignKeyConstraintName: 'usage_daily_platform_model_id_fkey' })
  model?: Model;
}
