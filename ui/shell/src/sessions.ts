import {
  HttpError,
  type AdminHttp,
  type ConnectionState,
  type PageUser,
  type PageVortex,
  type Selector,
  type Subscribable,
  type Tuple,
} from "@peek/plugin-sdk";
import { VortexClient, type AnyTuple, type TupleType } from "@peek/vortex";
import { BehaviorSubject, map } from "rxjs";

import type { ShellSession } from "./types.js";

/** Make `types` known to `client` (a plugin module brings its own tuple types). */
export function registerTuples(client: VortexClient, types: readonly unknown[]): void {
  // Pages arrive after the client was made, bringing their own types. A type known
  // by name with other fields (the same plugin's module loaded again after an
  // upgrade) keeps its first definition: the client refuses the redefinition.
  for (const type of types) {
    if (typeof type !== "object" || type === null) continue;
    const candidate = type as Partial<TupleType>;
    if (typeof candidate.name !== "string" || typeof candidate.fields !== "object") continue;
    try {
      client.registerTuples(type as TupleType);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // TypeError: known with other fields
    }
  }
}

function pageVortex(client: VortexClient): PageVortex {
  return {
    observe: <T extends Tuple = Tuple>(key: string, selector: Selector) =>
      client.observe(key, selector) as unknown as Subscribable<T[]>,
    action: async <T extends Tuple = Tuple>(action: Tuple) => (await client.action(action as AnyTuple)) as unknown as T[],
    state: client.state$,
  };
}

/**
 * The desktop and mobile apps: the logged-in user and the live data come from
 * the client service's vortex (`/vortex/login`, answered by the `user`
 * plugin through the server). The vortex client keeps the last user and the
 * data it observed in IndexedDB, so the app starts offline with that data.
 *
 * The password is not kept for logging in again: a session that expired or was
 * ended (a logout elsewhere) turns the user null, and the shell shows the login.
 */
export function userSiteSession(client = new VortexClient({ tuples: [], relogin: false })): ShellSession {
  client.connect();
  return {
    user: client.user$.pipe(map((name): PageUser | null => (name === null ? null : { username: name }))),
    state: client.state$,
    vortex: pageVortex(client),
    http: () => null,
    login: async (username, password) => {
      await client.login(username, password);
    },
    logout: () => client.logout(),
    registerTuples: (types) => registerTuples(client, types),
  };
}

interface AdminSessionBody {
  user: string | null;
  csrf: string | null;
}

/**
 * The admin app: the admin logs in on the admin site (`/vortex/login` there,
 * checked against the admin password); `GET /api/admin/session` says who is
 * logged in and gives the CSRF token that every state-changing request sends.
 * Its vortex socket (the server's own observables and actions) needs the login,
 * so a fresh client is made per login and closed at logout, or when the admin
 * site stops knowing the session (expired, ended elsewhere, server restarted):
 * then the user turns null and the shell shows the login.
 */
export function adminSiteSession(
  fetcher: typeof fetch = globalThis.fetch.bind(globalThis),
  makeClient: () => VortexClient = () => new VortexClient({ tuples: [], store: "peek-admin-vortex", relogin: false }),
): ShellSession {
  const user = new BehaviorSubject<PageUser | null>(null);
  const state = new BehaviorSubject<ConnectionState>("offline");
  let csrf: string | null = null;
  let client: VortexClient | null = null;
  let stateSub: { unsubscribe(): void } | null = null;
  let userSub: { unsubscribe(): void } | null = null;
  const pending: unknown[] = [];

  /** The session is gone: stop the client (its socket cannot reconnect without a login). */
  const sessionLost = async (lost: VortexClient): Promise<void> => {
    if (client !== lost) return;
    client = null;
    csrf = null;
    userSub?.unsubscribe();
    stateSub?.unsubscribe();
    state.next("offline");
    user.next(null);
    await lost.close().catch(() => undefined);
  };

  const startClient = (): VortexClient => {
    const made = makeClient();
    registerTuples(made, pending);
    stateSub?.unsubscribe();
    stateSub = made.state$.subscribe((s) => state.next(s));
    userSub?.unsubscribe();
    let welcomed = false;
    userSub = made.user$.subscribe((name) => {
      // The client turns its user null when the service refuses the session.
      if (name !== null) welcomed = true;
      else if (welcomed) void sessionLost(made);
    });
    client = made;
    return made;
  };
  const current = (): VortexClient => client ?? startClient();

  const refresh = async (): Promise<void> => {
    const response = await fetcher("/api/admin/session", { credentials: "same-origin" });
    const body = (await response.json()) as AdminSessionBody;
    csrf = body.csrf;
    if (body.user !== null && user.value?.username !== body.user) {
      current().connect();
      user.next({ username: body.user, isAdmin: true });
    } else if (body.user === null) {
      user.next(null);
    }
  };
  void refresh().catch(() => state.next("offline"));

  const http = (api: string): AdminHttp => ({
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await fetcher(`/plugins/${api}${path.startsWith("/") ? path : `/${path}`}`, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Peek-CSRF": csrf ?? "" },
        body: body === undefined ? null : JSON.stringify(body),
      });
      if (response.status === 401) {
        if (client !== null) void sessionLost(client);
        else user.next(null);
      }
      if (!response.ok) {
        let message = `HTTP ${response.status}`;
        try {
          const answer = (await response.json()) as { error?: string };
          if (answer.error) message = answer.error;
        } catch {
          message = (await response.text().catch(() => "")) || message;
        }
        throw new HttpError(response.status, message);
      }
      return (response.status === 204 ? undefined : await response.json()) as T;
    },
  });

  const vortex: PageVortex = {
    observe: (key, selector) => pageVortex(current()).observe(key, selector),
    action: (action) => pageVortex(current()).action(action),
    state,
  };

  return {
    user,
    state,
    vortex,
    http,
    login: async (username, password) => {
      await current().login(username, password);
      await refresh();
    },
    logout: async () => {
      const old = client;
      client = null;
      csrf = null;
      userSub?.unsubscribe();
      user.next(null);
      if (old !== null) {
        await old.logout().catch(() => undefined);
        await old.close();
      }
      state.next("offline");
    },
    registerTuples: (types) => {
      pending.push(...types);
      if (client !== null) registerTuples(client, types);
    },
    csrfToken: () => csrf,
  };
}
