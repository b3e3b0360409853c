import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { LimitsModule } from '../limits/limits.module.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { AuthController } from './auth.controller.js';
import { FailedAuthThrottle } from './failed-auth-throttle.js';
import { GuardLookupService } from './guard-lookup.service.js';
import { LastUsedRecorder } from './last-used.recorder.js';

@Module({
  imports: [LedgerModule, LimitsModule],
  controllers: [AuthController, ApiKeysController],
  providers: [
    ApiKeyGuard,
    FailedAuthThrottle,
    GuardLookupService,
    LastUsedRecorder,
    ApiKeysService,
  ],
  exports: [
    LimitsModule,
    ApiKeyGuard,
    FailedAuthThrottle,
    GuardLookupService,
    LastUsedRecorder,
    ApiKeysService,
  ],
})
export class AuthModule {}
