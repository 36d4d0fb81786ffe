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
 * Then it prints each shell's and each plugin module's size, raw and gzipped.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { build, transformWithEsbuild } from "vite";

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

/**
 * Minify a plugin module fully. Vite's library mode leaves the whitespace of ES output
 * alone (so that a later bundler can still tree-shake it), but a plugin module goes to
 * browsers as it is: this runs after Vite's own pass ("post") and drops the whitespace too.
 */
function minifyModule() {
  return {
    name: "peek:minify-module",
    renderChunk: {
      order: "post",
      async handler(code, chunk) {
        const options = { loader: "js", format: "esm", target: "es2022", minify: true };
        const out = await transformWithEsbuild(code, chunk.fileName, options);
        return { code: out.code, map: null };
      },
    },
  };
}

async function buildPlugin(dir, pkg, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  for (const [name, entry] of Object.entries(pkg.peek.entries)) {
    await build({
      configFile: false,
      root: dir,
      logLevel: "warn",
      plugins: [workspaceResolver(ui), minifyModule()],
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
  report();
}

/** What each shell and each plugin module weighs, as built and as gzip -9 sends it. */
function report() {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const sizes = (dir, names) => {
    let raw = 0;
    let gzip = 0;
    for (const name of names) {
      const bytes = readFileSync(join(dir, name));
      raw += bytes.length;
      gzip += gzipSync(bytes, { level: 9 }).length;
    }
    return `${kib(raw)}, gzip ${kib(gzip)}`;
  };
  for (const app of APPS) {
    const dir = join(repo, "peek_src/peek/webapps", app);
    const files = [...tree(dir).keys()];
    const scripts = files.filter((name) => name.endsWith(".js"));
    console.log(`${app}: ${files.length} files, ${sizes(dir, files)}; its scripts ${sizes(dir, scripts)}`);
  }
  for (const { dir, pkg } of plugins()) {
    const dist = join(dir, pkg.peek.dist);
    for (const name of [...tree(dist).keys()].sort()) console.log(`${pkg.name} ${name}: ${sizes(dist, [name])}`);
  }
}

await main();
