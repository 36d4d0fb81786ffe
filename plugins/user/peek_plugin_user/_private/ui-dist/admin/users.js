import { LitElement as d, css as l, nothing as o, html as a } from "lit";
function p(r, e) {
  let t = r;
  for (let s = 2; ; s += 1) {
    const n = customElements.get(t);
    if (n === e) return t;
    if (n === void 0)
      return customElements.define(t, e), t;
    t = `${r}-${s}`;
  }
}
class m extends d {
  constructor() {
    super(...arguments), this.users = null, this.problem = "", this.notice = "", this.editing = null;
  }
  static {
    this.properties = {
      users: { state: !0 },
      problem: { state: !0 },
      notice: { state: !0 },
      editing: { state: !0 }
    };
  }
  static {
    this.styles = l`
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
  }
  get http() {
    const e = this.ctx?.http;
    if (!e) throw new Error("the Users page needs the admin site's HTTP API");
    return e;
  }
  connectedCallback() {
    super.connectedCallback(), this.reload();
  }
  async reload() {
    try {
      const e = await this.http.json("GET", "/users");
      this.users = e.users;
    } catch (e) {
      this.problem = `cannot list users: ${i(e)}`;
    }
  }
  async run(e, t) {
    this.problem = "", this.notice = "";
    try {
      return await t(), this.notice = e, await this.reload(), !0;
    } catch (s) {
      return this.problem = i(s), !1;
    }
  }
  async add(e) {
    e.preventDefault();
    const t = e.target, s = new FormData(t), n = String(s.get("username") ?? "").trim();
    await this.run(
      `added ${n}`,
      () => this.http.json("POST", "/users", {
        username: n,
        password: String(s.get("password") ?? ""),
        display_name: String(s.get("display_name") ?? "").trim() || null,
        is_admin: s.get("is_admin") === "on"
      })
    ) && t.reset();
  }
  async setPassword(e, t) {
    e.preventDefault();
    const s = new FormData(e.target);
    await this.run(
      `changed the password of ${t}`,
      () => this.http.json("PUT", `/users/${encodeURIComponent(t)}/password`, { password: String(s.get("password") ?? "") })
    ) && (this.editing = null);
  }
  removeUser(e) {
    this.run(`deleted ${e}`, () => this.http.json("DELETE", `/users/${encodeURIComponent(e)}`));
  }
  render() {
    return a`
      <h1>Users</h1>
      ${this.problem ? a`<p class="problem" role="alert">${this.problem}</p>` : o}
      ${this.notice ? a`<p class="notice" role="status">${this.notice}</p>` : o}
      <form @submit=${(e) => {
      this.add(e);
    }} aria-label="Add a user">
        <label>Username <input type="text" name="username" required /></label>
        <label>Display name <input type="text" name="display_name" /></label>
        <label>Password <input type="password" name="password" required autocomplete="new-password" /></label>
        <label><span><input type="checkbox" name="is_admin" /> admin</span></label>
        <button type="submit">Add user</button>
      </form>
      ${this.users === null ? a`<p>Loading users…</p>` : a`<table>
            <thead><tr><th>Username</th><th>Display name</th><th></th><th></th></tr></thead>
            <tbody>
              ${this.users.map(
      (e) => a`<tr data-user=${e.username}>
                  <td>${e.username} ${e.is_admin ? a`<span class="badge">admin</span>` : o}</td>
                  <td>${e.display_name}</td>
                  <td>
                    ${this.editing === e.username ? a`<form @submit=${(t) => {
        this.setPassword(t, e.username);
      }}>
                          <input type="password" name="password" required aria-label="New password" autocomplete="new-password" />
                          <button type="submit">Save</button>
                          <button type="button" class="secondary" @click=${() => this.editing = null}>Cancel</button>
                        </form>` : a`<button class="secondary" @click=${() => this.editing = e.username}>Set password</button>`}
                  </td>
                  <td><button class="danger" @click=${() => this.removeUser(e.username)}>Delete</button></td>
                </tr>`
    )}
            </tbody>
          </table>`}
    `;
  }
}
function i(r) {
  return r instanceof Error ? r.message : String(r);
}
function h(r, e) {
  const t = document.createElement(p("user-admin-users", m));
  return t.ctx = e, r.replaceChildren(t), () => r.replaceChildren();
}
export {
  m as UsersPage,
  h as mount
};
