/**
 * Resolve bare imports of plugin UI sources from the ui/ workspace.
 *
 * The first-party plugins' UI sources live beside their Python code
 * (plugins/<name>/...), outside ui/, so Node's upward search from them never
 * reaches ui/node_modules where npm installed the workspace's packages. This
 * resolves such an import as if ui/ itself had made it.
 */
import { join } from "node:path";

/**
 * `@peek/vortex` is ui/vortex, its own npm project (own lock file, own
 * node_modules): it is aliased to its build output rather than installed
 * here, so that its dependencies never enter this workspace's lock file.
 */
export function vortexAlias(uiDir) {
  return { find: /^@peek\/vortex$/, replacement: join(uiDir, "vortex", "dist", "index.js") };
}

export function workspaceResolver(uiDir) {
  const anchor = join(uiDir, "package.json");
  return {
    name: "peek-workspace-resolver",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (!importer || source.startsWith(".") || source.startsWith("/") || source.startsWith("\0")) return null;
      if (importer.startsWith(uiDir) && !importer.includes("/node_modules/")) return null;
      const found = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (found) return found;
      return this.resolve(source, anchor, { ...options, skipSelf: true });
    },
  };
}
