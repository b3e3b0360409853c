import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ModelsModule } from '../models/models.module.js';
import { OrganizationsModule } from '../organizations/organizations.module.js';
import { ServiceClientsModule } from '../service-clients/service-clients.module.js';
import { UsersModule } from '../users/users.module.js';
import { DemoSeeder } from './demo-seeder.service.js';

@Module({
  imports: [AuthModule, ModelsModule, OrganizationsModule, ServiceClientsModule, UsersModule],
  providers: [DemoSeeder],
  exports: [DemoSeeder],
})
export class DemoModule {}
