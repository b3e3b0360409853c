import { ConfigError, loadConfig } from './app-config.js';

describe(loadConfig.name, () => {
  it('waits for a pooled connection as long as it connects, unless DB_POOL_WAIT_MS says otherwise', () => {
    expect(loadConfig({}).database).toMatchObject({ connectTimeoutMs: 5000, poolWaitMs: 5000 });
    expect(loadConfig({ DB_CONNECT_TIMEOUT_MS: '1000' }).database.poolWaitMs).toBe(1000);
    expect(
      loadConfig({ DB_CONNECT_TIMEOUT_MS: '1000', DB_POOL_WAIT_MS: '250' }).database,
    ).toMatchObject({ connectTimeoutMs: 1000, poolWaitMs: 250 });
  });

  it('refuses a pool wait of 0, which the pool would take as waiting forever', () => {
    expect(() => loadConfig({ DB_POOL_WAIT_MS: '0' })).toThrow(
      new ConfigError(['DB_POOL_WAIT_MS must be an integer between 10 and 120000 (got "0")']),
    );
  });

  it('gives a shutdown 8 s unless SHUTDOWN_GRACE_MS says otherwise', () => {
    expect(loadConfig({}).shutdownGraceMs).toBe(8000);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: '30000' }).shutdownGraceMs).toBe(30_000);
    expect(() => loadConfig({ SHUTDOWN_GRACE_MS: '-1' })).toThrow(ConfigError);
  });

  it('runs one process unless WEB_CONCURRENCY says otherwise, and more only with REDIS_URL', () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: '4', REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject(
      { webConcurrency: 4, redisUrl: 'redis://127.0.0.1:6379' },
    );
    expect(() => loadConfig({ WEB_CONCURRENCY: '2' })).toThrow(
      new ConfigError([
        'WEB_CONCURRENCY=2 needs REDIS_URL: without it each worker would count rate limits on ' +
          'its own, multiplying every limit by the number of workers',
      ]),
    );
    expect(() => loadConfig({ WEB_CONCURRENCY: '0', REDIS_URL: 'redis://h:6379' })).toThrow(
      new ConfigError(['WEB_CONCURRENCY must be an integer between 1 and 256 (got "0")']),
    );
  });
});
