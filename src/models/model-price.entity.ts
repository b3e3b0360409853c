import { Check, Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { Model } from './model.entity.js';

/** A price of a model from `effectiveFrom` on, in USD per million tokens. */
@Entity('model_prices')
@Check('model_prices_input_check', `price_million_input >= 0`)
@Check('model_prices_output_check', `price_million_output >= 0`)
// `(model_id, effective_from DESC, id DESC)`: TypeORM cannot state the descending order, so the
// migration owns the index.
@Index('model_prices_model_idx', { synchronize: false })
export class ModelPrice {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'model_id', type: 'uuid' })
  @ForeignKey(() => Model, { name: 'model_prices_model_id_fkey', onDelete: 'CASCADE' })
  modelId: string;

  @Column({ name: 'price_million_input', type: 'numeric' })
  priceMillionInput: string;

  @Column({ name: 'price_million_output', type: 'numeric' })
  priceMillionOutput: string;

  @Column({ name: 'effective_from', type: 'timestamptz', default: () => 'now()' })
  effectiveFrom: Date;
}
