/**
 * Two tiers. unit: no model and no build (specs beside the code in src and scripts, and test/unit); e2e: the real app
 * through node-llama-cpp on the tiny fixture model (test/e2e). And the container image's test,
 * which needs podman, and the monitoring tier (test/monitoring), which needs Prometheus. ESM
 * because node-llama-cpp is ESM-only.
 */
const shared = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
};

export default {
  testTimeout: 60000,
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/src', '<rootDir>/scripts', '<rootDir>/test/unit'],
      testMatch: ['**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.js',
    },
    // Not in `npm test`: it needs podman (see scripts/test-container.sh); .ci/run runs it.
    { ...shared, displayName: 'container', roots: ['<rootDir>/test/container'], testMatch: ['**/*.container-spec.ts'] },
    // Not in `npm test`: it needs Debian's prometheus package (promtool, and a real Prometheus
    // scraping dist/main.js); .ci/run installs it and runs this.
    {
      ...shared,
      displayName: 'monitoring',
      roots: ['<rootDir>/test/monitoring'],
      testMatch: ['**/*.monitoring-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.js',
    },
  ],
};
