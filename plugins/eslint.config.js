// The first-party plugins' UI sources are linted with the web apps' rules.
export { default } from "../ui/eslint.config.js";
