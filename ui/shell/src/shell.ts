import type { ConnectionState, PageContext, PageUser, Unsubscribable } from "@peek/plugin-sdk";
import { LitElement, html, nothing } from "lit";

import { icon } from "./icons.js";
import { ModuleLoader } from "./loader.js";
import { PeekPageHost } from "./page-host.js";
import { EMPTY_INDEX, type PagesSource } from "./pages.js";
import { hashFor, parseHash } from "./router.js";
import { shellStyles } from "./styles.js";
import type { PageEntry, PagesIndex, PlatformPage, ShellOptions, ShellSession } from "./types.js";

const STATE_LABEL: Record<ConnectionState, string> = {
  online: "Online",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/**
 * The app around the plugins' pages: login, a navigation built from the pages
 * index, a home page, the connection state, and one page host for the current
 * route. Everything it knows about plugins comes from the pages index, which
 * changes while it runs.
 */
export class PeekShell extends LitElement {
  static override properties = {
    user: { state: true },
    connection: { state: true },
    index: { state: true },
    route: { state: true },
    subpath: { state: true },
    loginProblem: { state: true },
    browserOnline: { state: true },
    indexProblem: { state: true },
  };

  static override styles = shellStyles;

  options!: ShellOptions;
  session!: ShellSession;
  pages!: PagesSource;
  loader = new ModuleLoader();

  protected user: PageUser | null = null;
  protected connection: ConnectionState = "offline";
  protected index: PagesIndex | null = null;
  protected route = "";
  protected subpath = "";
  protected loginProblem = "";
  protected browserOnline = typeof navigator === "undefined" ? true : navigator.onLine;
  protected indexProblem = "";
  private subscriptions: Unsubscribable[] = [];
  private stopPages: (() => void) | null = null;
  // The app's own pages' elements, made on first visit and kept (with their state) until logout.
  private platformElements = new Map<string, HTMLElement>();
  private readonly onHash = (): void => this.readLocation();
  private readonly onNetwork = (): void => {
    this.browserOnline = navigator.onLine;
  };

  override connectedCallback(): void {
    super.connectedCallback();
    this.readLocation();
    window.addEventListener("hashchange", this.onHash);
    window.addEventListener("online", this.onNetwork);
    window.addEventListener("offline", this.onNetwork);
    this.subscriptions.push(
      this.session.user.subscribe((user) => this.setUser(user)),
      this.session.state.subscribe((state) => (this.connection = state)),
    );
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener("hashchange", this.onHash);
    window.removeEventListener("online", this.onNetwork);
    window.removeEventListener("offline", this.onNetwork);
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions = [];
    this.stopPages?.();
    this.stopPages = null;
  }

  private readLocation(): void {
    const { route, subpath } = parseHash(window.location.hash);
    this.route = route;
    this.subpath = subpath;
  }

  private setUser(user: PageUser | null): void {
    this.user = user;
    // The pages index is watched while someone is logged in (the admin site
    // refuses it before); the user site's is public but only shown then too.
    if (user !== null && this.stopPages === null) {
      this.stopPages = this.pages.watch(
        (index) => {
          this.index = index;
          this.indexProblem = "";
        },
        (error) => {
          this.indexProblem = error instanceof Error ? error.message : String(error);
        },
      );
    } else if (user === null && this.stopPages !== null) {
      this.stopPages();
      this.stopPages = null;
      this.index = null;
      this.platformElements.clear();
    }
  }

  navigate(route: string, subpath = ""): void {
    window.location.hash = route ? hashFor(route, subpath) : "#/";
  }

  private contextFor = (entry: PageEntry): PageContext => {
    const index = (): PagesIndex => this.index ?? EMPTY_INDEX(this.options.app);
    return {
      app: this.options.app,
      plugin: entry.plugin,
      api: entry.api,
      route: entry.route,
      subpath: this.subpath,
      vortex: this.session.vortex,
      user: this.user,
      navigate: (route: string) => this.navigate(route),
      http: this.session.http(entry.api),
      uiApi: async <T,>(plugin: string): Promise<T> => {
        const ref = index().apis[plugin.replace(/^peek_plugin_/, "")];
        if (ref === undefined) throw new Error(`plugin ${plugin} publishes no UI API here`);
        const module = await this.loader.load(ref.module, ref.integrity, ref.error);
        if (Array.isArray(module.tuples)) this.session.registerTuples(module.tuples);
        return (module.default ?? module) as T;
      },
    };
  };

  private async submitLogin(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const username = this.options.fixedUsername ?? String(data.get("username") ?? "").trim();
    const password = String(data.get("password") ?? "");
    this.loginProblem = "";
    try {
      await this.session.login(username, password);
      form.reset();
    } catch (error) {
      const { code, status, retryAfter } = error as { code?: unknown; status?: unknown; retryAfter?: unknown };
      if (code === "refused" || status === 401) this.loginProblem = "Wrong username or password.";
      else if (code === "throttled" || status === 429)
        this.loginProblem =
          typeof retryAfter === "number"
            ? `Too many failed logins. Try again in ${retryAfter} s.`
            : "Too many failed logins. Try again later.";
      else this.loginProblem = `Cannot log in right now: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  protected override render() {
    return html`<div class=${`shell-${this.options.layout}`}>
      ${this.user === null ? this.renderLogin() : this.renderApp(this.user)}
    </div>`;
  }

  /** The vortex's state, except that a browser without any network is "offline" outright. */
  get connectionState(): ConnectionState {
    return this.connection !== "online" && !this.browserOnline ? "offline" : this.connection;
  }

  private renderConnection() {
    const state = this.connectionState;
    return html`<span class="conn" data-state=${state} role="status" aria-live="polite"
      ><span>${STATE_LABEL[state]}</span></span
    >`;
  }

  private renderLogin() {
    const fixed = this.options.fixedUsername;
    return html`
      <header class="topbar"><span class="brand">${this.options.title}</span>${this.renderConnection()}</header>
      <div class="login">
        <form @submit=${(e: SubmitEvent) => void this.submitLogin(e)}>
          <h1>Log in</h1>
          ${fixed
            ? html`<p>Administrator password for <strong>${fixed}</strong>.</p>`
            : html`<label>Username <input name="username" autocomplete="username" required /></label>`}
          <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
          ${this.loginProblem ? html`<p class="problem" role="alert">${this.loginProblem}</p>` : nothing}
          <button type="submit">Log in</button>
        </form>
      </div>
    `;
  }

  private platformElement(page: PlatformPage): HTMLElement {
    let element = this.platformElements.get(page.route);
    if (element === undefined) {
      element = page.create(this.session);
      this.platformElements.set(page.route, element);
    }
    return element;
  }

  private renderApp(user: PageUser) {
    const platform = this.options.platformPages ?? [];
    const own = this.route ? platform.find((p) => p.route === this.route) : undefined;
    const pages = (this.index?.pages ?? []).filter((p) => !platform.some((o) => o.route === p.route));
    const current = this.route && !own ? pages.find((p) => p.route === this.route) : undefined;
    const link = (route: string, title: string, iconName: string) =>
      html`<a href=${route ? hashFor(route) : "#/"} data-route=${route}
        aria-current=${(this.route === route ? "page" : nothing) as string}>${icon(iconName)}<span>${title}</span></a>`;
    return html`
      <header class="topbar">
        <span class="brand">${this.options.title}</span>
        ${this.renderConnection()}
        <span class="user" title=${user.username}>${user.displayName ?? user.username}</span>
        <button class="logout" @click=${() => void this.session.logout()}>Log out</button>
      </header>
      <div class=${`layout-${this.options.layout}`}>
        <nav class="nav" aria-label="Pages">
          ${link("", "Home", "home")} ${platform.map((p) => link(p.route, p.title, p.icon))}
          ${pages.map((p) => link(p.route, p.title, p.icon))}
        </nav>
        <main class="content">
          ${this.indexProblem ? html`<p class="banner">Pages may be out of date: ${this.indexProblem}</p>` : nothing}
          ${this.route === "" ? this.renderHome(user, pages) : nothing}
          ${own ? this.platformElement(own) : nothing}
          ${this.route !== "" && current
            ? html`<peek-page-host
                .entry=${current}
                .loader=${this.loader}
                .context=${this.contextFor}
                .subpath=${this.subpath}
                .registerTuples=${(types: readonly unknown[]) => this.session.registerTuples(types)}
              ></peek-page-host>`
            : nothing}
          ${this.route !== "" && !own && !current && this.index !== null
            ? html`<h1>Page not found</h1><p class="empty">No plugin offers “${this.route}” here (any more).</p>
                <p><a href="#/">Back to the home page</a></p>`
            : nothing}
        </main>
      </div>
    `;
  }

  private renderHome(user: PageUser, pages: readonly PageEntry[]) {
    return html`
      <h1>Welcome, ${user.displayName ?? user.username}</h1>
      ${pages.length === 0
        ? html`<p class="empty">${this.index === null ? "Loading pages…" : "No plugin offers a page here yet."}</p>`
        : html`<div class="tiles">
            ${pages.map(
              (p) => html`<a class="tile" href=${hashFor(p.route)}
                >${icon(p.icon)}<span>${p.title}<small>${p.plugin_title}</small></span></a
              >`,
            )}
          </div>`}
    `;
  }
}

export function defineShellElements(): void {
  if (!customElements.get("peek-page-host")) customElements.define("peek-page-host", PeekPageHost);
  if (!customElements.get("peek-shell")) customElements.define("peek-shell", PeekShell);
}
