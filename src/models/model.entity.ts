import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';

/** A model the platform serves, with its price per million tokens in USD. */
@Entity('models')
@Unique('models_unique_name_key', ['uniqueName'])
@Check('models_price_input_check', `price_million_input >= 0`)
@Check('models_price_output_check', `price_million_output >= 0`)
export class Model {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'unique_name', type: 'text' })
  uniqueName: string;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ name: 'price_million_input', type: 'numeric' })
  priceMillionInput: string;

  @Column({ name: 'price_million_output', type: 'numeric' })
  priceMillionOutput: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
