import type { DataSourceOptions } from 'typeorm';
import { ApiKeyHash } from '../auth/api-key-hash.entity.js';
import { ApiKeyMonthlySpend } from '../auth/api-key-monthly-spend.entity.js';
import { ApiKey } from '../auth/api-key.entity.js';
import { Reservation } from '../auth/reservation.entity.js';
import { AuditEntry } from '../audit/audit-entry.entity.js';
import type { DatabaseConfig } from '../config/app-config.js';
import { GuardDecisionHourly } from '../decisions/guard-decision-hourly.entity.js';
import { ModelPrice } from '../models/model-price.entity.js';
import { Model } from '../models/model.entity.js';
import { OrganizationMember } from '../organizations/organization-member.entity.js';
import { OrganizationMonthlySpend } from '../organizations/organization-monthly-spend.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import { ServiceClientSecret } from '../service-clients/service-client-secret.entity.js';
import { ServiceClient } from '../service-clients/service-client.entity.js';
import { UsageDailyPlatform } from '../usage/usage-daily-platform.entity.js';
import { UsageDaily } from '../usage/usage-daily.entity.js';
import { UsageHourly } from '../usage/usage-hourly.entity.js';
import { UsageHourlyPlatform } from '../usage/usage-hourly-platform.entity.js';
import { UsageReplay } from '../usage/usage-replay.entity.js';
import { UsageRequest } from '../usage/usage-request.entity.js';
import { UsageEvent } from '../usage/usage-event.entity.js';
import { MonthlySpend } from '../users/monthly-spend.entity.js';
import { UserCredit } from '../users/user-credit.entity.js';
import { User } from '../users/user.entity.js';
import { CreateSchema1795700000000 } from './migrations/1795700000000-CreateSchema.js';
import { AddKeyLifecycle1795710000000 } from './migrations/1795710000000-AddKeyLifecycle.js';
import { AddUsageReplays1795720000000 } from './migrations/1795720000000-AddUsageReplays.js';
import { AddLookupIndexes1795730000000 } from './migrations/1795730000000-AddLookupIndexes.js';
import { AddModelPrices1795740000000 } from './migrations/1795740000000-AddModelPrices.js';
import { PartitionUsageEvents1795750000000 } from './migrations/1795750000000-PartitionUsageEvents.js';
import { AddBudgetsAndReservations1795760000000 } from './migrations/1795760000000-AddBudgetsAndReservations.js';
import { AddHourlyRollups1795770000000 } from './migrations/1795770000000-AddHourlyRollups.js';
import { RepairMonthFunction1795780000000 } from './migrations/1795780000000-RepairMonthFunction.js';
import { AddPlatformRollups1795785000000 } from './migrations/1795785000000-AddPlatformRollups.js';
import { AddReservationModels1795790000000 } from './migrations/1795790000000-AddReservationModels.js';
import { FixSpendRolesDefault1795800000000 } from './migrations/1795800000000-FixSpendRolesDefault.js';
import { AddLimits1795810000000 } from './migrations/1795810000000-AddLimits.js';
import { AddPayerToUsageKeys1795900000000 } from './migrations/1795900000000-AddPayerToUsageKeys.js';
import { AddGuardDecisionCounts1796000000000 } from './migrations/1796000000000-AddGuardDecisionCounts.js';
import { DropUsageEventForeignKeys1796100000000 } from './migrations/1796100000000-DropUsageEventForeignKeys.js';

export const ENTITIES = [
  User,
  UserCredit,
  MonthlySpend,
  Organization,
  OrganizationMember,
  OrganizationMonthlySpend,
  ApiKey,
  ApiKeyHash,
  ApiKeyMonthlySpend,
  Reservation,
  ServiceClient,
  ServiceClientSecret,
  Model,
  ModelPrice,
  UsageEvent,
  UsageReplay,
  UsageRequest,
  UsageDaily,
  UsageHourly,
  UsageDailyPlatform,
  UsageHourlyPlatform,
  AuditEntry,
  GuardDecisionHourly,
];

export const MIGRATIONS = [
  CreateSchema1795700000000,
  AddKeyLifecycle1795710000000,
  AddUsageReplays1795720000000,
  AddLookupIndexes1795730000000,
  AddModelPrices1795740000000,
  PartitionUsageEvents1795750000000,
  AddBudgetsAndReservations1795760000000,
  AddHourlyRollups1795770000000,
  RepairMonthFunction1795780000000,
  AddPlatformRollups1795785000000,
  AddReservationModels1795790000000,
  FixSpendRolesDefault1795800000000,
  AddLimits1795810000000,
  AddPayerToUsageKeys1795900000000,
  AddGuardDecisionCounts1796000000000,
  DropUsageEventForeignKeys1796100000000,
];

/** The one description of the database connection, shared by the app and the CLI scripts. */
export function typeOrmOptions(database: DatabaseConfig, url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName: 'swarms-guard',
    connectTimeoutMS: database.connectTimeoutMs,
    extra: {
      max: database.poolSize,
      // A statement waiting on a row lock this long gives up (55P03): a duplicate idempotent
      // request answers 409 rather than hold a connection while the first one is stuck.
      options: '-c lock_timeout=5000',
      idleTimeoutMillis: database.idleTimeoutMs,
      // pg-pool's one bound on getting a connection: a busy pool's wait for a free one, and the
      // opening of a new one. Past it the pool rejects ("timeout exceeded when trying to
      // connect"), which answers 503 rather than leaving the request queued.
      connectionTimeoutMillis: database.poolWaitMs,
      statement_timeout: database.statementTimeoutMs,
    },
  };
}
