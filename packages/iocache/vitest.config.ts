import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: { name: "iocache", include: ["src/**/*.test.ts"] },
});
