import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from './audit/audit.module.js';
import { AuthCacheModule } from './auth-cache/auth-cache.module.js';
import { AuthModule } from './auth/auth.module.js';
import { AccessGuard } from './common/access.guard.js';
import { ShutdownTasks } from './common/shutdown-tasks.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DecisionsModule } from './decisions/decisions.module.js';
import { DurabilityCheck } from './database/durability-check.js';
import { typeOrmOptions } from './database/typeorm-options.js';
import { DemoModule } from './demo/demo.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ModelsModule } from './models/models.module.js';
import { OrganizationsModule } from './organizations/organizations.module.js';
import { ReportsModule } from './reports/reports.module.js';
import { ServiceClientsModule } from './service-clients/service-clients.module.js';
import { UsageModule } from './usage/usage.module.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule {
  /** The whole service, on the database at `databaseUrl`. */
  static register(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        TypeOrmModule.forRoot(typeOrmOptions(config.database, databaseUrl)),
        AuthCacheModule,
        AuditModule,
        HealthModule,
        AuthModule,
        UsageModule,
        UsersModule,
        OrganizationsModule,
        ServiceClientsModule,
        ModelsModule,
        ReportsModule,
        DecisionsModule,
        DemoModule,
      ],
      providers: [{ provide: APP_GUARD, useClass: AccessGuard }, ShutdownTasks, DurabilityCheck],
    };
  }
}
