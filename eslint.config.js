// ESLint decides correctness; Prettier decides layout (eslint-config-prettier turns off the overlap).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'native/*/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The soak report's chart script runs in the browser, beside uPlot and the report's data.
    files: ['scripts/lib/soak-report.client.js'],
    languageOptions: { globals: { ...globals.browser, uPlot: 'readonly', SOAK: 'readonly' } },
  },
  {
    // Tests and scripts read loosely typed JSON bodies and library internals.
    files: ['test/**', 'scripts/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
