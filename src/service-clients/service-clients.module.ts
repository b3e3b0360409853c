import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ServiceClient } from './service-client.entity.js';
import { ServiceClientsController } from './service-clients.controller.js';
import { ServiceClientsService } from './service-clients.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([ServiceClient])],
  controllers: [ServiceClientsController],
  providers: [ServiceClientsService],
  exports: [ServiceClientsService],
})
export class ServiceClientsModule {}
