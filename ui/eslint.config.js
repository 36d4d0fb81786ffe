// Lint for the shells, the plugin SDK and (through plugins/eslint.config.js, which
// re-exports this) the first-party plugins' UI sources.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const configs = tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "vortex/**",
      "**/ui-dist/**",
      "**/*.py",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    // Tests reach into shadow roots they have just rendered.
    files: ["**/test/**/*.ts", "**/tests/ui/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
  {
    // The build scripts run in Node and report what they built.
    files: ["build/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
    rules: { "no-console": "off" },
  },
);

export default configs;
