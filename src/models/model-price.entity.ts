import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A price of a model from `effectiveFrom` on, in USD per million tokens. */
@Entity('model_prices')
export class ModelPrice {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @Column({ name: 'price_million_input', type: 'numeric' })
  priceMillionInput: string;

  @Column({ name: 'price_million_output', type: 'numeric' })
  priceMillionOutput: string;

  @Column({ name: 'effective_from', type: 'timestamptz', default: () => 'now()' })
  effectiveFrom: Date;
}
