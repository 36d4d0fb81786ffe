import type { AdminHttp, AppKind, ConnectionState, PageUser, PageVortex, Subscribable } from "@peek/plugin-sdk";

/** One page of the pages index the platform serves at `/ui/pages/<app>`. */
export interface PageEntry {
  readonly plugin: string;
  readonly api: string;
  readonly plugin_title: string;
  readonly route: string;
  readonly title: string;
  readonly icon: string;
  /** Content-hashed URL of the page's ES module, or null when it cannot be served. */
  readonly module: string | null;
  readonly integrity: string | null;
  /** Why the module cannot be served (missing from the plugin's package, say). */
  readonly error: string | null;
}

export interface ModuleRef {
  readonly module: string | null;
  readonly integrity: string | null;
  readonly error: string | null;
}

export interface PagesIndex {
  readonly app: AppKind;
  readonly version: number;
  readonly pages: readonly PageEntry[];
  readonly apis: Readonly<Record<string, ModuleRef>>;
}

/** Login, the logged-in user and the vortex of one app, as the shell uses them. */
export interface ShellSession {
  readonly user: Subscribable<PageUser | null>;
  readonly state: Subscribable<ConnectionState>;
  readonly vortex: PageVortex;
  /** Admin only: the admin site's HTTP API for a plugin (with the CSRF token). */
  http(api: string): AdminHttp | null;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** Make tuple types of a plugin module known to the vortex client before it is used. */
  registerTuples(types: readonly unknown[]): void;
  /** Admin only: the CSRF token that state-changing requests on the admin site send. */
  csrfToken?(): string | null;
}

/** A page of the app itself (not of a plugin), e.g. the admin app's "Plugins". */
export interface PlatformPage {
  readonly route: string;
  readonly title: string;
  readonly icon: string;
  /** Make the page's element; the shell makes it once per login and keeps it. */
  create(session: ShellSession): HTMLElement;
}

export interface ShellOptions {
  readonly app: AppKind;
  readonly title: string;
  readonly layout: "side" | "bottom";
  /** Fixed user name of the login form (the admin app's is "admin"). */
  readonly fixedUsername?: string;
  /** The app's own pages, listed first in the navigation; their routes win over plugins'. */
  readonly platformPages?: readonly PlatformPage[];
}
