import { Column, Entity, PrimaryColumn } from 'typeorm';

const PRIMARY_KEY = 'guard_decisions_hourly_pkey';

/**
 * How many answered guard calls, per UTC hour, route pattern, HTTP status and decision (`ok`,
 * or the error code answered), every instance adding its counts to the same row.
 */
@Entity('guard_decisions_hourly')
export class GuardDecisionHourly {
  @PrimaryColumn({ type: 'timestamptz', primaryKeyConstraintName: PRIMARY_KEY })
  hour: Date;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: PRIMARY_KEY })
  route: string;

  @PrimaryColumn({ type: 'smallint', primaryKeyConstraintName: PRIMARY_KEY })
  status: number;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: PRIMARY_KEY })
  decision: string;

  @Column({ type: 'bigint' })
  count: string;
}
