import { defineProject } from "vitest/config";

export default defineProject({
  resolve: { conditions: ["source"] },
  test: { name: "native-fuse", include: ["src/**/*.test.ts"] },
});
