import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { Metrics } from './metrics.service.js';

/** The database pool's connections, read from the pool when scraped. */
@Injectable()
export class PoolMetrics implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const pool = () => (this.dataSource.driver as unknown as { master?: pg.Pool }).master;
    this.metrics.gauge(
      {
        name: 'guard_db_pool_connections',
        help: 'Database pool connections by state: in_use, idle',
        labelNames: ['state'],
      },
      (set) => {
        const current = pool();
        set(current ? current.totalCount - current.idleCount : 0, { state: 'in_use' });
        set(current?.idleCount ?? 0, { state: 'idle' });
      },
    );
    this.metrics.gauge(
      {
        name: 'guard_db_pool_waiting_requests',
        help: 'Queries waiting for a free database pool connection',
      },
      (set) => set(pool()?.waitingCount ?? 0),
    );
    this.metrics.gauge(
      { name: 'guard_db_pool_max_connections', help: 'Size of the database pool' },
      (set) => set((pool() as { options?: { max?: number } } | undefined)?.options?.max ?? 0),
    );
  }
}
