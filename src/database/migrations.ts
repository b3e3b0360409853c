import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config.js';
import { typeOrmOptions } from './typeorm-options.js';

/** Applies pending migrations, each in its own transaction; returns their names. */
export async function runMigrations(database: DatabaseConfig, url: string): Promise<string[]> {
  const dataSource = new DataSource(typeOrmOptions(database, url));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}
