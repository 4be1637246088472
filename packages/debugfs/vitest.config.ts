import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: {
    name: "debugfs",
    include: ["src/**/*.test.ts"],
    // Also when run from this folder: the run's own temp directory, removed at the end.
    globalSetup: ["../../scripts/vitest-global-setup.ts"],
    // The differential suites build images with mke2fs and run the real debugfs: seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { TZ: "UTC" },
  },
});
