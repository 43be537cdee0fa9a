// Test runner settings: one forked process per file (Dawn is a native addon), long timeouts for llvmpipe.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // Deterministic kernel choice (the documented fallbacks); test/gpu/tuner.test.ts turns the tuner on itself.
    env: { WEBGRAD_TUNE: '0' },
  },
});
