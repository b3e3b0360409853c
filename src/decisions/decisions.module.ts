import { Module } from '@nestjs/common';
import { DecisionRecorder } from './decision-recorder.service.js';
import { DECISION_FLUSH_MS, decisionFlushMs } from './decision-flush.config.js';
import { DecisionsController } from './decisions.controller.js';
import { DecisionsService } from './decisions.service.js';

/** Counts of the guard's decisions: kept in memory, written in batches, reported to admins. */
@Module({
  controllers: [DecisionsController],
  providers: [
    { provide: DECISION_FLUSH_MS, useFactory: () => decisionFlushMs() },
    DecisionRecorder,
    DecisionsService,
  ],
  exports: [DecisionRecorder],
})
export class DecisionsModule {}
