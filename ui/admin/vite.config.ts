import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

import { appConfig } from "../build/app-config.ts";

export default defineConfig(appConfig({ app: "admin", base: "/", pwa: false }, dirname(fileURLToPath(import.meta.url))));
