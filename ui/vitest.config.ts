// Unit tests of the shell (ui/shell/test) and of the first-party plugins' UI
// (plugins/*/tests/ui), in happy-dom.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

import { vortexAlias, workspaceResolver } from "./build/workspace-resolver.mjs";

const ui = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  plugins: [workspaceResolver(ui)],
  resolve: { dedupe: ["lit", "rxjs"], alias: [vortexAlias(ui)] },
  // The plugins' UI sources and tests live outside ui/.
  server: { fs: { allow: [resolve(ui, "..")] } },
  test: {
    dir: resolve(ui, ".."),
    include: ["ui/shell/test/**/*.test.ts", "plugins/*/tests/ui/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    environment: "happy-dom",
  },
});
