// ESLint over the TypeScript (type-aware, through the tsconfigs that build it) and the plain
// JavaScript: the fleet page in web/ runs in browsers, scripts/ and the test plugins in Node.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layering: the wire formats, publish rules, producers, the plugin API, TLS, config, Tesla's
// side and the emulator never import the server, what runs in it for operators (ops/) or the
// commands above them; what they share with those lives down here.
const UPPER_LAYERS = {
  patterns: [{ group: ['**/server/*', '**/ops/*', '**/cli/*', '**/cli.js'], message: 'Folders below server/ do not import server/, ops/ or cli/.' }],
};

export default defineConfig(
  globalIgnores(['dist/', 'build/', '.tap/', 'dev-certs/', 'examples/*/dist/', 'examples/*/node_modules/', 'bench/results/']),

  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // The tsconfigs that build each file: test/, bench/ and test-cluster/ are only in the
        // test one; test/types and the example plugin import this package by name.
        project: ['./tsconfig.json', './tsconfig.test.json', './test/types/tsconfig.json', './examples/jsonl-recorder/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `typeof import('x')` types a module that is loaded lazily, where it is needed.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/consistent-type-exports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // A promise returned from inside try/catch must be awaited there, or the catch misses it.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap and node:test run the subtests they are given and await them themselves.
          allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }],
          allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'describe', 'it'], package: 'node:test' }],
        },
      ],
      // Rejecting with a caught `unknown` passes the original error on, as `throw` may (only-throw-error).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // `async` with no await is how a method that must return a promise turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // `t.ok(x) || t.comment(detail)` is how the tests print detail only when a check fails.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true }],
      // Sanitizers and the tests of topic rules match control characters on purpose.
      'no-control-regex': 'off',
      // Expected CLI output is matched as printed, its column alignment included.
      'no-regex-spaces': 'off',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // The one enum, PacketType, is what MQTT readers compare any packet type number off the wire with.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // A closure made before a `let` is set reads it as undefined until then, not as a TDZ error.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },

  {
    // Tests and benchmarks read parsed JSON (broker payloads, CLI output, API bodies, configs
    // edited per case) as `any` and assert on it with t.match / t.same; typing each payload would
    // only restate the assertion.
    files: ['test/**/*.ts', 'test-cluster/**/*.ts', 'bench/**/*.ts', 'examples/*/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  {
    files: ['src/{envelope,record,publish,producers,plugin,testing,tls,config,tesla,emulator,broker}/**/*.ts', 'src/{errors,backoff,log-limit,unreadable}.ts'],
    rules: { 'no-restricted-imports': ['error', UPPER_LAYERS] },
  },
  {
    // The shipped plugins are written as any plugin is: against the public plugin API only.
    files: ['src/plugins/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./\\.\\./(?!plugin/)', message: 'Shipped plugins import only the plugin API (src/plugin/).' }] },
      ],
    },
  },

  {
    files: ['web/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.browser },
  },
  {
    files: ['**/*.{js,mjs}'],
    ignores: ['web/**'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
);
