import { Module } from '@nestjs/common';
import { DecisionRecorder } from './decision-recorder.service.js';
import { DecisionsController } from './decisions.controller.js';
import { DecisionsService } from './decisions.service.js';

/** Counts of the guard's decisions: kept in memory, written in batches, reported to admins. */
@Module({
  controllers: [DecisionsController],
  providers: [DecisionRecorder, DecisionsService],
  exports: [DecisionRecorder],
})
export class DecisionsModule {}
