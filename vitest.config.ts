import { defineConfig } from "vitest/config";

// One vitest run covers every package and the e2e suite; each project keeps
// its own config beside its code.
export default defineConfig({
  test: {
    projects: ["packages/*", "e2e"],
    globalSetup: ["./scripts/vitest-global-setup.ts"],
  },
});
