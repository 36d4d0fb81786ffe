import type { AppKind } from "@peek/plugin-sdk";
import type { PageEntry, PagesIndex } from "./types.js";

export const EMPTY_INDEX = (app: AppKind): PagesIndex => ({ app, version: 0, pages: [], apis: {} });

/** Check what the server sent: a malformed index must not break the shell. */
export function parseIndex(app: AppKind, raw: unknown): PagesIndex {
  if (typeof raw !== "object" || raw === null) throw new Error("the pages index is not an object");
  const body = raw as Partial<PagesIndex>;
  if (!Array.isArray(body.pages)) throw new Error("the pages index has no list of pages");
  const pages = body.pages.filter(
    (p): p is PageEntry =>
      typeof p === "object" && p !== null && typeof p.route === "string" && typeof p.title === "string" && typeof p.plugin === "string",
  );
  const apis = typeof body.apis === "object" && body.apis !== null ? body.apis : {};
  return { app, version: typeof body.version === "number" ? body.version : 0, pages, apis };
}

export interface PagesSource {
  /** Start: `onIndex` gets the index now and after every change of the plugin set. */
  watch(onIndex: (index: PagesIndex) => void, onError: (error: unknown) => void): () => void;
}

/**
 * The pages index of `app` from the site that served the shell: one fetch (the
 * service worker answers it from its cache while offline), then server-sent
 * events that carry a fresh index whenever the plugin set changes. EventSource
 * reconnects by itself after a network failure.
 */
export function serverPages(app: AppKind, base = ""): PagesSource {
  return {
    watch(onIndex, onError) {
      let closed = false;
      let latest = -1;
      const deliver = (index: PagesIndex): void => {
        // The fetch and the first event race; an older version never replaces a newer one.
        if (closed || index.version < latest) return;
        latest = index.version;
        onIndex(index);
      };
      fetch(`${base}/ui/pages/${app}`, { credentials: "same-origin" })
        .then(async (response) => {
          if (!response.ok) throw new Error(`the pages index answered HTTP ${response.status}`);
          deliver(parseIndex(app, await response.json()));
        })
        .catch((error: unknown) => {
          if (!closed) onError(error);
        });
      const events = new EventSource(`${base}/ui/pages/${app}/events`);
      events.addEventListener("index", (event) => {
        try {
          deliver(parseIndex(app, JSON.parse((event as MessageEvent<string>).data)));
        } catch (error) {
          onError(error);
        }
      });
      return () => {
        closed = true;
        events.close();
      };
    },
  };
}
