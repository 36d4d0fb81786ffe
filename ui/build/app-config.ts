/**
 * The Vite configuration every shell (admin, desktop, mobile) is built with.
 *
 * - Output goes into the Python package (`peek_src/peek/webapps/<app>/`), which
 *   the platform serves: hashed names below `assets/` (immutable), and
 *   `index.html`, `sw.js` and the manifest under fixed names (no-cache).
 * - Lit and the vortex client library are entries of their own
 *   (`assets/lit-<hash>.js`, `assets/vortex-<hash>.js`) named by an import map in
 *   `index.html`: plugin modules import "lit" and "@peek/vortex" and so share
 *   the shell's copies.
 * - With `pwa`, `sw.js` is built too and the list of the build's files is
 *   written into it for precaching.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { OutputBundle } from "rollup";
import type { Plugin, UserConfig } from "vite";

import { vortexAlias } from "./workspace-resolver.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const shellSrc = resolve(here, "../shell/src");

export interface AppOptions {
  readonly app: "admin" | "desktop" | "mobile";
  readonly base: string;
  readonly pwa: boolean;
}

function sha(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

function litImportMap(base: string): Plugin {
  return {
    name: "peek-lit-import-map",
    transformIndexHtml: {
      order: "post",
      handler(html, ctx) {
        const entry = (name: string): string => {
          const chunk = Object.values(ctx.bundle ?? {}).find((c) => c.type === "chunk" && c.isEntry && c.name === name);
          if (chunk === undefined) throw new Error(`no ${name} entry in the build`);
          return `${base}${chunk.fileName}`;
        };
        if (ctx.bundle === undefined) return html;
        const map = JSON.stringify({ imports: { lit: entry("lit"), "@peek/vortex": entry("vortex") } });
        return { html, tags: [{ tag: "script", attrs: { type: "importmap" }, children: map, injectTo: "head-prepend" }] };
      },
    },
  };
}

function files(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...files(path));
    else found.push(path);
  }
  return found;
}

function precacheManifest(base: string, publicDir: string): Plugin {
  return {
    name: "peek-precache-manifest",
    enforce: "post",
    generateBundle(_options, bundle: OutputBundle) {
      const sw = bundle["sw.js"];
      if (sw === undefined || sw.type !== "chunk") return;
      const entries: { url: string; revision: string | null }[] = [];
      for (const [fileName, item] of Object.entries(bundle)) {
        if (fileName === "sw.js" || fileName.endsWith(".map")) continue;
        const body = item.type === "chunk" ? item.code : item.source;
        entries.push({ url: base + fileName, revision: fileName.startsWith("assets/") ? null : sha(body) });
      }
      for (const path of files(publicDir)) {
        const name = relative(publicDir, path).split("\\").join("/");
        entries.push({ url: base + name, revision: sha(readFileSync(path)) });
      }
      entries.sort((a, b) => a.url.localeCompare(b.url));
      if (!sw.code.includes("self.__WB_MANIFEST")) throw new Error("sw.js does not use self.__WB_MANIFEST");
      sw.code = sw.code.replace("self.__WB_MANIFEST", JSON.stringify(entries));
    },
  };
}

export function appConfig(options: AppOptions, appDir: string): UserConfig {
  const input: Record<string, string> = {
    index: resolve(appDir, "index.html"),
    lit: resolve(shellSrc, "lit.ts"),
    vortex: resolve(shellSrc, "vortex.ts"),
  };
  if (options.pwa) input.sw = resolve(shellSrc, "sw.ts");
  const publicDir = resolve(appDir, "public");
  return {
    root: appDir,
    base: options.base,
    publicDir,
    logLevel: "warn",
    resolve: {
      // One copy of each, whichever package (the vortex client, the shell) imports it.
      dedupe: ["lit", "rxjs"],
      alias: [vortexAlias(resolve(here, ".."))],
    },
    build: {
      outDir: resolve(here, "../../peek_src/peek/webapps", options.app),
      emptyOutDir: true,
      target: "es2022",
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
      rollupOptions: {
        input,
        // The lit and vortex entries keep their exports: plugin modules import them by name.
        preserveEntrySignatures: "exports-only",
        output: {
          entryFileNames: (chunk) => (chunk.name === "sw" ? "sw.js" : "assets/[name]-[hash].js"),
          chunkFileNames: "assets/[name]-[hash].js",
          assetFileNames: "assets/[name]-[hash][extname]",
        },
      },
    },
    plugins: [litImportMap(options.base), ...(options.pwa ? [precacheManifest(options.base, publicDir)] : [])],
  };
}
