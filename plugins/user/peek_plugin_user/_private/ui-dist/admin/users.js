import{LitElement as l,css as p,nothing as o,html as a}from"lit";function u(r,t){let e=r;for(let s=2;;s+=1){const n=customElements.get(e);if(n===t)return e;if(n===void 0)return customElements.define(e,t),e;e=`${r}-${s}`}}class i extends l{constructor(){super(...arguments),this.users=null,this.problem="",this.notice="",this.editing=null}static{this.properties={users:{state:!0},problem:{state:!0},notice:{state:!0},editing:{state:!0}}}static{this.styles=p`
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
  `}get http(){const t=this.ctx?.http;if(!t)throw new Error("the Users page needs the admin site's HTTP API");return t}connectedCallback(){super.connectedCallback(),this.reload()}async reload(){try{const t=await this.http.json("GET","/users");this.users=t.users}catch(t){this.problem=`cannot list users: ${d(t)}`}}async run(t,e){this.problem="",this.notice="";try{return await e(),this.notice=t,await this.reload(),!0}catch(s){return this.problem=d(s),!1}}async add(t){t.preventDefault();const e=t.target,s=new FormData(e),n=String(s.get("username")??"").trim();await this.run(`added ${n}`,()=>this.http.json("POST","/users",{username:n,password:String(s.get("password")??""),display_name:String(s.get("display_name")??"").trim()||null,is_admin:s.get("is_admin")==="on"}))&&e.reset()}async setPassword(t,e){t.preventDefault();const s=new FormData(t.target);await this.run(`changed the password of ${e}`,()=>this.http.json("PUT",`/users/${encodeURIComponent(e)}/password`,{password:String(s.get("password")??"")}))&&(this.editing=null)}removeUser(t){this.run(`deleted ${t}`,()=>this.http.json("DELETE",`/users/${encodeURIComponent(t)}`))}render(){return a`
      <h1>Users</h1>
      ${this.problem?a`<p class="problem" role="alert">${this.problem}</p>`:o}
      ${this.notice?a`<p class="notice" role="status">${this.notice}</p>`:o}
      <form @submit=${t=>{this.add(t)}} aria-label="Add a user">
        <label>Username <input type="text" name="username" required /></label>
        <label>Display name <input type="text" name="display_name" /></label>
        <label>Password <input type="password" name="password" required autocomplete="new-password" /></label>
        <label><span><input type="checkbox" name="is_admin" /> admin</span></label>
        <button type="submit">Add user</button>
      </form>
      ${this.users===null?a`<p>Loading users…</p>`:a`<table>
            <thead><tr><th>Username</th><th>Display name</th><th></th><th></th></tr></thead>
            <tbody>
              ${this.users.map(t=>a`<tr data-user=${t.username}>
                  <td>${t.username} ${t.is_admin?a`<span class="badge">admin</span>`:o}</td>
                  <td>${t.display_name}</td>
                  <td>
                    ${this.editing===t.username?a`<form @submit=${e=>{this.setPassword(e,t.username)}}>
                          <input type="password" name="password" required aria-label="New password" autocomplete="new-password" />
                          <button type="submit">Save</button>
                          <button type="button" class="secondary" @click=${()=>this.editing=null}>Cancel</button>
                        </form>`:a`<button class="secondary" @click=${()=>this.editing=t.username}>Set password</button>`}
                  </td>
                  <td><button class="danger" @click=${()=>this.removeUser(t.username)}>Delete</button></td>
                </tr>`)}
            </tbody>
          </table>`}
    `}}function d(r){return r instanceof Error?r.message:String(r)}function m(r,t){const e=document.createElement(u("user-admin-users",i));return e.ctx=t,r.replaceChildren(e),()=>r.replaceChildren()}export{i as UsersPage,m as mount};
