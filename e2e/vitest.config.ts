import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: {
    name: "e2e",
    include: ["src/**/*.test.ts"],
    // Also when run from this folder: the run's own temp directory, removed at the end.
    globalSetup: ["../scripts/vitest-global-setup.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Real mounts and loop devices are shared machine state: one file at a time.
    fileParallelism: false,
  },
});
