import { Global, Module } from '@nestjs/common';
import { AdminChanges } from './admin-changes.service.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

@Global()
@Module({
  controllers: [AuditController],
  providers: [AdminChanges, AuditService],
  exports: [AdminChanges],
})
export class AuditModule {}
