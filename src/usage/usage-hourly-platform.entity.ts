import { Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Model } from '../models/model.entity.js';
import { UsageTotals } from './usage-totals.js';

/**
 * Usage of the whole platform per hour and model, kept in step with every insert, so
 * reports with no narrower filter than the platform read one row per hour and model.
 */
@Entity('usage_hourly_platform')
export class UsageHourlyPlatform extends UsageTotals {
  @PrimaryColumn({ type: 'timestamptz', primaryKeyConstraintName: 'usage_hourly_platform_pkey' })
  hour: Date;

  @PrimaryColumn({
    name: 'model_id',
    type: 'uuid',
    primaryKeyConstraintName: 'usage_hourly_platform_pkey',
  })
  modelId: string;

  @ManyToOne(() => Model, { nullable: false })
  @JoinColumn({ name: 'model_id', foreignKeyConstraintName: 'usage_hourly_platform_model_id_fkey' })
  model?: Model;
}
