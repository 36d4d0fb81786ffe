#!/usr/bin/env node
/**
 * Build every web app and every first-party plugin's UI into the Python packages.
 *
 *   node build/build-all.mjs            build into the source tree (then commit the output)
 *   node build/build-all.mjs --check    build into a temporary folder and fail if the
 *                                       committed output differs (CI: sources and builds agree)
 *
 * Shells go to peek_src/peek/webapps/<app>/; a plugin's modules to the folder its
 * package.json names in "peek.dist", one self-contained ES module per entry
 * ("peek.entries"), with "lit" and "@peek/vortex" left to the shell's import map.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "vite";

import { vortexAlias, workspaceResolver } from "./workspace-resolver.mjs";

const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(ui, "..");
const check = process.argv.includes("--check");
const APPS = ["admin", "desktop", "mobile"];

function ensureVortexBuilt() {
  // The vortex client is its own npm project (ui/vortex): install and compile it.
  const vortex = join(ui, "vortex");
  if (!existsSync(join(vortex, "node_modules"))) {
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: vortex, stdio: "inherit" });
  }
  execFileSync("npm", ["run", "--silent", "build"], { cwd: vortex, stdio: "inherit" });
}

function tree(dir) {
  const out = new Map();
  if (!existsSync(dir)) return out;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(dir, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  };
  walk(dir);
  return out;
}

function compare(built, committed, label, problems) {
  const a = tree(built);
  const b = tree(committed);
  for (const [name, hash] of a) if (b.get(name) !== hash) problems.push(`${label}/${name} differs or is missing`);
  for (const name of b.keys()) if (!a.has(name)) problems.push(`${label}/${name} is not built any more`);
}

function plugins() {
  const root = JSON.parse(readFileSync(join(ui, "package.json"), "utf8"));
  return root.workspaces
    .filter((w) => w.startsWith("../plugins/"))
    .map((w) => resolve(ui, w))
    .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
    .filter(({ pkg }) => pkg.peek && pkg.peek.entries);
}

async function buildPlugin(dir, pkg, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  for (const [name, entry] of Object.entries(pkg.peek.entries)) {
    await build({
      configFile: false,
      root: dir,
      logLevel: "warn",
      plugins: [workspaceResolver(ui)],
      resolve: { dedupe: ["lit"], alias: [vortexAlias(ui)] },
      build: {
        outDir,
        emptyOutDir: false,
        copyPublicDir: false,
        reportCompressedSize: false,
        minify: true,
        target: "es2022",
        lib: { entry: resolve(dir, entry), formats: ["es"], fileName: () => `${name}.js` },
        rollupOptions: {
          // One file per page: its integrity hash then covers all of its code.
          external: ["lit", "@peek/vortex"],
          output: { inlineDynamicImports: true },
        },
      },
    });
  }
}

async function main() {
  ensureVortexBuilt();
  const problems = [];
  const scratch = check ? mkdtempSync(join(tmpdir(), "peek-ui-")) : null;
  try {
    for (const app of APPS) {
      const committed = join(repo, "peek_src/peek/webapps", app);
      const outDir = scratch ? join(scratch, app) : committed;
      await build({ configFile: join(ui, app, "vite.config.ts"), build: { outDir } });
      if (scratch) compare(outDir, committed, `peek_src/peek/webapps/${app}`, problems);
    }
    for (const { dir, pkg } of plugins()) {
      const committed = join(dir, pkg.peek.dist);
      const outDir = scratch ? join(scratch, pkg.name.replace("/", "_")) : committed;
      await buildPlugin(dir, pkg, outDir);
      if (scratch) compare(outDir, committed, relative(repo, committed), problems);
    }
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    console.error(`The committed web app builds are out of date (run scripts/build-ui):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  for (const app of APPS) {
    const files = tree(join(repo, "peek_src/peek/webapps", app));
    let bytes = 0;
    for (const name of files.keys()) bytes += statSync(join(repo, "peek_src/peek/webapps", app, name)).size;
    console.log(`${app}: ${files.size} files, ${(bytes / 1024).toFixed(1)} KiB`);
  }
}

await main();
