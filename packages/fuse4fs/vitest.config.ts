import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: { name: "fuse4fs", include: ["src/**/*.test.ts"] },
});
