/// <reference lib="webworker" />
/**
 * The service worker of the desktop and mobile apps: the shell's files are
 * precached at install (their list is written into this file by the build), a
 * navigation offline gets the cached index.html, plugins' modules (immutable,
 * content-hashed URLs) are cached on first use, and the pages index is fetched
 * from the network first and from the cache when offline. Live data offline
 * comes from the vortex client's own IndexedDB cache, not from here.
 */
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { CacheFirst, NetworkFirst } from "workbox-strategies";

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<{ url: string; revision: string | null }> };

const scope = new URL(self.registration.scope).pathname;

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();

registerRoute(
  new NavigationRoute(createHandlerBoundToURL(`${scope}index.html`), {
    allowlist: [new RegExp(`^${scope.replace(/[/]/g, "\\/")}(index\\.html)?$`)],
  }),
);
registerRoute(({ url }) => url.pathname.startsWith("/ui/plugins/"), new CacheFirst({ cacheName: "peek-plugin-ui" }));
registerRoute(
  ({ url }) => /^\/ui\/pages\/[a-z]+$/.test(url.pathname),
  new NetworkFirst({ cacheName: "peek-pages-index", networkTimeoutSeconds: 4 }),
);

self.addEventListener("install", () => void self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
