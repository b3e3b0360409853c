import { Column, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { Organization } from './organization.entity.js';

/** What an organization was charged in one calendar month of its own time zone, for budgets. */
@Entity('organization_monthly_spend')
export class OrganizationMonthlySpend {
  @PrimaryColumn({ name: 'organization_id', type: 'uuid' })
  @ForeignKey(() => Organization, {
    name: 'organization_monthly_spend_organization_id_fkey',
    onDelete: 'CASCADE',
  })
  organizationId: string;

  @PrimaryColumn({ type: 'date' })
  month: string;

  @Column({ type: 'numeric', default: 0 })
  amount: string;
}
