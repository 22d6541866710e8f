// @ts-check
const { builtinModules } = require('node:module');
const tseslint = require('typescript-eslint');

/** Node built-ins are non-deterministic I/O: workflow code must never import them. */
const bannedInWorkflows = builtinModules.flatMap((m) => [m, `node:${m}`]);

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'coverage/**', 'test/fixtures/**', 'jest.config.js', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: __dirname } },
    rules: {
      // forgetting to await activities, workflow APIs or database calls loses errors and ordering
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: bannedInWorkflows, patterns: ['**/activities/**/!(*.ts)'] }],
    },
  },
);
