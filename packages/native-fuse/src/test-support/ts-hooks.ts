/**
 * Lets plain `node` run this package's TypeScript sources (child servers in
 * tests, the bench): Node strips the types itself; this hook maps the `.js`
 * specifiers the sources use (NodeNext style) to the `.ts` files beside them.
 * Use: `node --import ./src/test-support/ts-hooks.ts script.ts`.
 */
import { existsSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      specifier.endsWith(".js") &&
      (specifier.startsWith(".") || specifier.startsWith("/")) &&
      context.parentURL
    ) {
      const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (ts.protocol === "file:" && existsSync(fileURLToPath(ts))) {
        return nextResolve(ts.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
