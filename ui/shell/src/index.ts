/**
 * @peek/shell: what the admin, desktop and mobile apps share. Each app's
 * `main.ts` picks a session (user site or admin site) and a layout:
 *
 * ```ts
 * startShell({ app: "mobile", title: "Peek", layout: "bottom" }, userSiteSession());
 * ```
 */
import { defineShellElements, type PeekShell } from "./shell.js";
import { serverPages, type PagesSource } from "./pages.js";
import type { ShellOptions, ShellSession } from "./types.js";

export { ModuleLoader, ModuleLoadError, domPreload } from "./loader.js";
export { EMPTY_INDEX, parseIndex, serverPages, type PagesSource } from "./pages.js";
export { PeekPageHost } from "./page-host.js";
export { hashFor, parseHash } from "./router.js";
export { adminSiteSession, registerTuples, userSiteSession } from "./sessions.js";
export { PeekShell, defineShellElements } from "./shell.js";
export type { ModuleRef, PageEntry, PagesIndex, PlatformPage, ShellOptions, ShellSession } from "./types.js";

export function startShell(
  options: ShellOptions,
  session: ShellSession,
  pages: PagesSource = serverPages(options.app),
  parent: HTMLElement = document.body,
): PeekShell {
  defineShellElements();
  const shell = document.createElement("peek-shell") as PeekShell;
  shell.options = options;
  shell.session = session;
  shell.pages = pages;
  parent.replaceChildren(shell);
  return shell;
}

/** Register the app's service worker (offline start); a failure only costs offline use. */
export function registerServiceWorker(scope: string): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(`${scope}sw.js`, { scope, type: "module" }).catch((error: unknown) => {
    document.documentElement.dataset.swError = String(error);
  });
}
