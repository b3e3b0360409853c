import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { metricsListener } from './metrics.server.js';

const logger = new Logger('ClusterMetrics');

/** The primary's metrics listener, and how to close it. */
export interface ClusterMetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * In the primary of a cluster: `GET /metrics` on METRICS_PORT answers the metrics of every
 * worker, aggregated by prom-client (counters and histograms summed, so the totals are the
 * service's). The workers do not listen on METRICS_PORT.
 */
export async function serveClusterMetrics(
  host: string,
  port: number,
): Promise<ClusterMetricsServer> {
  const aggregator = new AggregatorRegistry();
  const server = createServer(
    metricsListener(() => aggregator.clusterMetrics(), aggregator.contentType, logger),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger.log(`Metrics of every worker on http://localhost:${bound}/metrics`);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** In a worker: answers the primary's metrics requests with this application's registry. */
export function reportMetricsToPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what makes prom-client answer the primary's requests in a worker.
  new AggregatorRegistry();
}
