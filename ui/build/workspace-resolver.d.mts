import type { Plugin } from "vite";
export declare function workspaceResolver(uiDir: string): Plugin;
export declare function vortexAlias(uiDir: string): { find: RegExp; replacement: string };
