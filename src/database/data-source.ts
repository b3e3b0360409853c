import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config.js';
import { typeOrmOptions } from './typeorm-options.js';

/** For the TypeORM CLI (`npm run migration:generate`): the database named by DATABASE_URL. */
const config = loadConfig();
if (!config.database.url) {
  throw new Error('Set DATABASE_URL to the database to compare the entities against');
}
export default new DataSource(typeOrmOptions(config.database, config.database.url));
