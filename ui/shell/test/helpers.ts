import type { PageUser, PageVortex, Tuple } from "@peek/plugin-sdk";
import { BehaviorSubject, Subject } from "rxjs";

import type { PagesSource } from "../src/pages.js";
import type { PageEntry, PagesIndex, ShellSession } from "../src/types.js";

export function entry(route: string, extra: Partial<PageEntry> = {}): PageEntry {
  return {
    plugin: `peek_plugin_${route}`,
    api: route,
    plugin_title: route.toUpperCase(),
    route,
    title: `${route} page`,
    icon: "page",
    module: `/ui/plugins/${route}/abc/desktop/${route}.js`,
    integrity: "sha384-x",
    error: null,
    ...extra,
  };
}

export function fakeVortex(): PageVortex & { sent: Tuple[]; feeds: Map<string, Subject<Tuple[]>> } {
  const feeds = new Map<string, Subject<Tuple[]>>();
  const sent: Tuple[] = [];
  return {
    sent,
    feeds,
    observe: (key: string) => {
      let feed = feeds.get(key);
      if (!feed) feeds.set(key, (feed = new Subject<Tuple[]>()));
      return feed as never;
    },
    action: async (action: Tuple) => {
      sent.push(action);
      return [];
    },
    state: new BehaviorSubject("online" as const),
  };
}

export function fakeSession(): ShellSession & { users: BehaviorSubject<PageUser | null>; logins: string[] } {
  const users = new BehaviorSubject<PageUser | null>(null);
  const logins: string[] = [];
  return {
    users,
    logins,
    user: users,
    state: new BehaviorSubject("reconnecting" as const),
    vortex: fakeVortex(),
    http: () => null,
    login: async (username: string, password: string) => {
      if (password === "too-often")
        throw Object.assign(new Error("throttled"), { code: "throttled", status: 429, retryAfter: 8 });
      if (password !== "right") throw Object.assign(new Error("refused"), { code: "refused" });
      logins.push(username);
      users.next({ username });
    },
    logout: async () => users.next(null),
    registerTuples: () => undefined,
  };
}

export function fakePages(): PagesSource & { push(index: PagesIndex): void; watching: number } {
  let listener: ((index: PagesIndex) => void) | null = null;
  const source = {
    watching: 0,
    watch(onIndex: (index: PagesIndex) => void) {
      listener = onIndex;
      source.watching += 1;
      return () => {
        listener = null;
        source.watching -= 1;
      };
    },
    push(index: PagesIndex) {
      listener?.(index);
    },
  };
  return source;
}

export async function settle(element: { updateComplete: Promise<unknown> }): Promise<void> {
  for (let i = 0; i < 5; i += 1) {
    await new Promise((r) => setTimeout(r, 0));
    await element.updateComplete;
  }
}
