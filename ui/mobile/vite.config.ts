import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

import { appConfig } from "../build/app-config.ts";

export default defineConfig(appConfig({ app: "mobile", base: "/mobile/", pwa: true }, dirname(fileURLToPath(import.meta.url))));
