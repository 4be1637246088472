import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: {
    name: "iocache",
    include: ["src/**/*.test.ts"],
    // Also when run from this folder: the run's own temp directory, removed at the end.
    globalSetup: ["../../scripts/vitest-global-setup.ts"],
  },
});
