import { Module } from '@nestjs/common';
import { LedgerService } from './ledger.service.js';

/** The one owner of money: reservations, usage charges, their expiry. */
@Module({
  providers: [LedgerService],
  exports: [LedgerService],
})
export class LedgerModule {}
