import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: { name: "fsck-lite", include: ["src/**/*.test.ts"] },
});
