import { Global, Module } from '@nestjs/common';
import { MetricsServer } from './metrics.server.js';
import { Metrics } from './metrics.service.js';
import { PoolMetrics } from './pool-metrics.js';

/** Prometheus metrics: one registry every module records into, served on its own port. */
@Global()
@Module({ providers: [Metrics, MetricsServer, PoolMetrics], exports: [Metrics, MetricsServer] })
export class MetricsModule {}
