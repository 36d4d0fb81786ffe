/**
 * The contract between a Peek shell (admin, desktop, mobile) and a plugin's UI module.
 *
 * A plugin declares its pages in `plugin.toml` (`[[ui.pages]]`); the shell loads a
 * page's module on demand by URL (with its integrity hash) and calls its `mount`:
 *
 * ```ts
 * import type { PageContext } from "@peek/plugin-sdk";
 * export function mount(host: HTMLElement, ctx: PageContext) {
 *   host.textContent = `hello ${ctx.user?.username}`;
 *   return () => { host.textContent = ""; };   // optional: called when the page goes away
 * }
 * ```
 *
 * `lit` is provided by the shell at run time (an import map): plugin builds keep it
 * external and so share one copy. This package is bundled into each module (it is tiny).
 *
 * A plugin publishes a UI API for other plugins' pages (`ctx.uiApi<T>(plugin)`) the way
 * user, noop and active_task do: its types in `ui-api/index.d.ts` (written by hand; the
 * plugin's package.json, named `@peek/<plugin>`, points `types` at it), the module in
 * `_private/shared-app/api.ts` (default export typed by that interface, `tuples` for the
 * shell to register), built as the `"shared/api"` entry of `peek.entries` and declared as
 * `[ui] api = "shared/api.js"` in plugin.toml. A consumer lists `@peek/<plugin>` in its
 * package.json dependencies and imports only types from it (`import type`): the code
 * comes at run time from the shell, which loads the module on first use.
 */

export type AppKind = "admin" | "desktop" | "mobile";

/** A vortex tuple: `_t` is its registered name `<plugin>.<Name>`, the rest its fields. */
export interface Tuple {
  readonly _t: string;
  readonly [field: string]: unknown;
}

/** A selector: a flat map of string keys to scalar values (see PROTOCOL.md). */
export type Selector = Readonly<Record<string, string | number | boolean | null>>;

export type ConnectionState = "online" | "offline" | "reconnecting";

/** Something to unsubscribe from; RxJS subscriptions fit. */
export interface Unsubscribable {
  unsubscribe(): void;
}

/** The part of an Observable that pages use; RxJS Observables fit. */
export interface Subscribable<T> {
  subscribe(observer: ((value: T) => void) | Partial<ObserverLike<T>>): Unsubscribable;
}

export interface ObserverLike<T> {
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

/** The shared vortex client the shell hands to pages. */
export interface PageVortex {
  /** The current value of `key`/`selector` (from the offline cache while offline) and every update. */
  observe<T extends Tuple = Tuple>(key: string, selector: Selector): Subscribable<T[]>;
  /**
   * Send an action to its plugin's processor on the server. Offline, the action is queued
   * durably and sent once when the connection is back; the promise settles then.
   */
  action<T extends Tuple = Tuple>(action: Tuple): Promise<T[]>;
  /** online / offline / reconnecting, now and on every change. */
  readonly state: Subscribable<ConnectionState>;
}

export interface PageUser {
  readonly username: string;
  readonly displayName?: string;
  readonly isAdmin?: boolean;
}

/** HTTP calls to the admin site's plugin routes, with the admin session and its CSRF token. */
export interface AdminHttp {
  /** `fetch` below `/plugins/<plugin>/`; throws {@link HttpError} for a non-2xx answer. */
  json<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface PageContext {
  readonly app: AppKind;
  /** The plugin this page belongs to (`peek_plugin_noop`) and its API name (`noop`). */
  readonly plugin: string;
  readonly api: string;
  /** The page's route, e.g. `noop`; `subpath` is what follows it (`#/noop/a/b` -> `a/b`). */
  readonly route: string;
  readonly subpath: string;
  readonly vortex: PageVortex;
  readonly user: PageUser | null;
  /** Go to another page by route (`""` is the home page). */
  navigate(route: string): void;
  /** Another plugin's published UI API (see `[ui] api` in plugin.toml); rejects if it has none. */
  uiApi<T>(plugin: string): Promise<T>;
  /** Admin app only: the admin site's HTTP API for this plugin's routes. */
  readonly http: AdminHttp | null;
}

export type Unmount = () => void;

/** What a page module exports. */
export interface PageModule {
  // void: a mount that returns nothing is the common case; a function is its cleanup.
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type
  mount(host: HTMLElement, ctx: PageContext): void | Unmount | Promise<void | Unmount>;
}

/**
 * Define a custom element under `base`, or under `base-2`, `base-3`... when another class
 * (an older version of the same plugin, still loaded in this page) has the name already.
 * Returns the name to create. Custom element names cannot be redefined, and a plugin
 * upgraded while the shell stays open loads its module a second time.
 */
export function defineElement(base: string, cls: CustomElementConstructor): string {
  let name = base;
  for (let n = 2; ; n += 1) {
    const existing = customElements.get(name);
    if (existing === cls) return name;
    if (existing === undefined) {
      customElements.define(name, cls);
      return name;
    }
    name = `${base}-${n}`;
  }
}

/** Create the page's root element (defined with {@link defineElement}) and hand it the context. */
export function mountElement<E extends HTMLElement & { ctx?: PageContext }>(
  host: HTMLElement,
  tag: string,
  ctx: PageContext,
): Unmount {
  const element = document.createElement(tag) as E;
  element.ctx = ctx;
  host.replaceChildren(element);
  return () => element.remove();
}
