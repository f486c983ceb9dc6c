import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@xraft/core': src('core'),
      '@xraft/sim': src('sim'),
      '@xraft/storage': src('storage'),
      '@xraft/runtime': src('runtime'),
      '@xraft/kv': src('kv'),
      '@xraft/check': src('check'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
