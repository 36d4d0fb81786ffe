/** The admin app's Users page: list, add, set a password, delete (the admin site's /plugins/user routes). */
import { defineElement, type AdminHttp, type PageContext } from "@peek/plugin-sdk";
import { LitElement, css, html, nothing } from "lit";

export interface AdminUser {
  readonly username: string;
  readonly display_name: string;
  readonly is_admin: boolean;
}

export class UsersPage extends LitElement {
  static override properties = {
    users: { state: true },
    problem: { state: true },
    notice: { state: true },
    editing: { state: true },
  };

  static override styles = css`
    :host { display: block; max-width: 56rem; }
    h1 { font-size: 1.5rem; margin: 0 0 1rem; }
    table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #dde3ea; border-radius: 12px; }
    th, td { text-align: left; padding: 0.6rem 0.8rem; border-bottom: 1px solid #eef1f4; }
    th { font-size: 0.85rem; color: #5b6472; font-weight: 600; }
    form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin: 1rem 0; }
    label { display: grid; gap: 0.2rem; font-size: 0.85rem; color: #3a4350; }
    input[type="text"], input[type="password"] { font: inherit; padding: 0.45rem 0.6rem; border: 1px solid #b9c3cf; border-radius: 8px; }
    button { font: inherit; padding: 0.45rem 0.9rem; border-radius: 8px; border: 1px solid #16324f; background: #16324f; color: #fff; cursor: pointer; }
    button.secondary { background: #fff; color: #16324f; }
    button.danger { background: #fff; color: #a12a1f; border-color: #a12a1f; }
    .problem { color: #a12a1f; }
    .notice { color: #1e6b3a; }
    .badge { font-size: 0.75rem; background: #e1ecf8; color: #0f4c8a; border-radius: 999px; padding: 0.1rem 0.5rem; }
  `;

  ctx?: PageContext;
  protected users: readonly AdminUser[] | null = null;
  protected problem = "";
  protected notice = "";
  protected editing: string | null = null;

  private get http(): AdminHttp {
    const http = this.ctx?.http;
    if (!http) throw new Error("the Users page needs the admin site's HTTP API");
    return http;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.reload();
  }

  async reload(): Promise<void> {
    try {
      const body = await this.http.json<{ users: AdminUser[] }>("GET", "/users");
      this.users = body.users;
    } catch (error) {
      this.problem = `cannot list users: ${message(error)}`;
    }
  }

  private async run(what: string, call: () => Promise<unknown>): Promise<boolean> {
    this.problem = "";
    this.notice = "";
    try {
      await call();
      this.notice = what;
      await this.reload();
      return true;
    } catch (error) {
      this.problem = message(error);
      return false;
    }
  }

  private async add(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const username = String(data.get("username") ?? "").trim();
    const ok = await this.run(`added ${username}`, () =>
      this.http.json("POST", "/users", {
        username,
        password: String(data.get("password") ?? ""),
        display_name: String(data.get("display_name") ?? "").trim() || null,
        is_admin: data.get("is_admin") === "on",
      }),
    );
    if (ok) form.reset();
  }

  private async setPassword(event: SubmitEvent, username: string): Promise<void> {
    event.preventDefault();
    const data = new FormData(event.target as HTMLFormElement);
    const ok = await this.run(`changed the password of ${username}`, () =>
      this.http.json("PUT", `/users/${encodeURIComponent(username)}/password`, { password: String(data.get("password") ?? "") }),
    );
    if (ok) this.editing = null;
  }

  private removeUser(username: string): void {
    void this.run(`deleted ${username}`, () => this.http.json("DELETE", `/users/${encodeURIComponent(username)}`));
  }

  protected override render() {
    return html`
      <h1>Users</h1>
      ${this.problem ? html`<p class="problem" role="alert">${this.problem}</p>` : nothing}
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing}
      <form @submit=${(e: SubmitEvent) => void this.add(e)} aria-label="Add a user">
        <label>Username <input type="text" name="username" required /></label>
        <label>Display name <input type="text" name="display_name" /></label>
        <label>Password <input type="password" name="password" required autocomplete="new-password" /></label>
        <label><span><input type="checkbox" name="is_admin" /> admin</span></label>
        <button type="submit">Add user</button>
      </form>
      ${this.users === null
        ? html`<p>Loading users…</p>`
        : html`<table>
            <thead><tr><th>Username</th><th>Display name</th><th></th><th></th></tr></thead>
            <tbody>
              ${this.users.map(
                (u) => html`<tr data-user=${u.username}>
                  <td>${u.username} ${u.is_admin ? html`<span class="badge">admin</span>` : nothing}</td>
                  <td>${u.display_name}</td>
                  <td>
                    ${this.editing === u.username
                      ? html`<form @submit=${(e: SubmitEvent) => void this.setPassword(e, u.username)}>
                          <input type="password" name="password" required aria-label="New password" autocomplete="new-password" />
                          <button type="submit">Save</button>
                          <button type="button" class="secondary" @click=${() => (this.editing = null)}>Cancel</button>
                        </form>`
                      : html`<button class="secondary" @click=${() => (this.editing = u.username)}>Set password</button>`}
                  </td>
                  <td><button class="danger" @click=${() => this.removeUser(u.username)}>Delete</button></td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    `;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function mount(host: HTMLElement, ctx: PageContext): () => void {
  const page = document.createElement(defineElement("user-admin-users", UsersPage)) as UsersPage;
  page.ctx = ctx;
  host.replaceChildren(page);
  return () => host.replaceChildren();
}
