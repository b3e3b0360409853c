import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { UsageController } from './usage.controller.js';
import { UsagePartitions } from './usage-partitions.service.js';
import { UsageService } from './usage.service.js';

@Module({
  imports: [AuthModule, LedgerModule],
  controllers: [UsageController],
  providers: [UsageService, UsagePartitions],
})
export class UsageModule {}
