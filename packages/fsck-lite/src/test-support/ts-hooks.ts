/**
 * Lets a thread started from this package's TypeScript sources (the reader
 * thread, when the tests run the sources) resolve the `.js` specifiers the
 * sources use (NodeNext style) to the `.ts` files beside them; Node strips
 * the types itself. prefetch.ts passes it as `--import` to the thread only
 * when it runs from a `.ts` file.
 */
import { existsSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath } from "node:url";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      specifier.endsWith(".js") &&
      (specifier.startsWith(".") || specifier.startsWith("/")) &&
      context.parentURL !== undefined
    ) {
      const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
      if (ts.protocol === "file:" && existsSync(fileURLToPath(ts))) {
        return nextResolve(ts.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
