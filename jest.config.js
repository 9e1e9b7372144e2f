/** Jest in ESM mode (ts-jest default-esm); `npm test` runs unit and integration tests. */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json', diagnostics: { ignoreCodes: [151001] } }],
  },
  testTimeout: 60000,
  globalSetup: '<rootDir>/__tests__/helpers/global-setup.cjs',
  reporters: ['default', '<rootDir>/__tests__/helpers/summary-reporter.cjs'],
};
