/** Jest in ESM mode (NestJS 12 is ESM-only); see README "Tests". */
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.spec.json' }];

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest, '^.+\\.js$': tsJest },
  // Two ESM-only packages that CommonJS dependencies require().
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  // Kills any service a failed test left running, so that Jest can exit.
  setupFilesAfterEnv: ['<rootDir>/test/support/after-file.ts'],
  testTimeout: 120_000,
};
