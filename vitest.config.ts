import { defineConfig } from 'vitest/config';

// Tests run against the compiled package (dist/), because worker threads load compiled files.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // Generous: these guard against hangs on a loaded 2-core machine; tests wait on events, never on time.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Type tests (expectTypeOf) of the public API: tsc checks them against dist's declarations on every `npm test`.
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './test/tsconfig.typecheck.json',
    },
  },
});
