import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { AuthController } from './auth.controller.js';
import { FailedAuthThrottle } from './failed-auth-throttle.js';
import { GuardLookupService } from './guard-lookup.service.js';
import { LastUsedRecorder } from './last-used.recorder.js';
import { SlidingWindowRateLimiter } from './rate-limiter.js';

@Module({
  imports: [LedgerModule],
  controllers: [AuthController, ApiKeysController],
  providers: [
    ApiKeyGuard,
    FailedAuthThrottle,
    GuardLookupService,
    LastUsedRecorder,
    SlidingWindowRateLimiter,
    ApiKeysService,
  ],
  exports: [
    ApiKeyGuard,
    FailedAuthThrottle,
    GuardLookupService,
    LastUsedRecorder,
    SlidingWindowRateLimiter,
    ApiKeysService,
  ],
})
export class AuthModule {}
