import { Module } from '@nestjs/common';
import { ServiceClientsController } from './service-clients.controller.js';
import { ServiceClientsService } from './service-clients.service.js';

@Module({
  controllers: [ServiceClientsController],
  providers: [ServiceClientsService],
  exports: [ServiceClientsService],
})
export class ServiceClientsModule {}
