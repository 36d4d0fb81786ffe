import{w as m,i as M,b as S,A as g,d}from"./lit-element-C9UjNeOd.js";import{B as v,V as T}from"./vortex-Cbn3N7_q.js";const $={home:m`<path d="M3 11 12 4l9 7v9h-6v-6H9v6H3z"/>`,bolt:m`<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>`,people:m`<circle cx="9" cy="8" r="3.5"/><circle cx="17" cy="9" r="2.5"/><path d="M2 20c0-4 3-6 7-6s7 2 7 6M15 14c4 0 7 2 7 6"/>`,checklist:m`<path d="M4 6l2 2 3-3M4 13l2 2 3-3M4 20l2 2 3-3M12 7h9M12 14h9M12 21h9"/>`,gear:m`<circle cx="12" cy="12" r="3"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3"/>`,page:m`<path d="M6 2h9l5 5v15H6zM14 2v6h6"/>`};function k(s){return m`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${$[s]??$.page}</svg>`}class C extends Error{constructor(e,t){super(t),this.url=e,this.name="ModuleLoadError"}}function A(s,e){return new Promise((t,o)=>{const n=document.createElement("link");n.rel="modulepreload",n.integrity=e,n.href=s,n.onload=()=>t(),n.onerror=()=>o(new C(s,"the module could not be fetched, or its content does not match its integrity hash")),document.head.append(n)})}const H=s=>import(s);class j{constructor(e=A,t=H){this.preload=e,this.importer=t,this.loaded=new Map}load(e,t,o=null){if(e===null||t===null)return Promise.reject(new C(e,o??"the platform cannot serve this module"));let n=this.loaded.get(e);return n===void 0&&(n=this.preload(e,t).then(()=>this.importer(e)),this.loaded.set(e,n),n.catch(()=>this.loaded.delete(e))),n}}class z extends M{constructor(){super(...arguments),this.entry=null,this.loader=null,this.context=null,this.subpath="",this.registerTuples=()=>{},this.phase={kind:"loading"},this.unmount=null,this.mountedKey=null,this.generation=0}static{this.properties={entry:{attribute:!1},loader:{attribute:!1},context:{attribute:!1},subpath:{type:String},phase:{state:!0}}}static{this.styles=S`
    :host { display: block; }
    .loading { color: #5b6472; padding: 1rem 0; }
    .error-card {
      border: 1px solid #e0a3a3; border-left: 6px solid #c0392b; background: #fff5f5;
      border-radius: 10px; padding: 1rem 1.25rem; color: #3b1f1f; max-width: 42rem;
    }
    .error-card h2 { margin: 0 0 0.5rem; font-size: 1.1rem; color: #a12a1f; }
    .error-card p { margin: 0.25rem 0; }
    .error-card code { font-size: 0.9em; word-break: break-word; }
    .error-card button {
      margin-top: 0.75rem; font: inherit; padding: 0.5rem 1rem; border-radius: 8px;
      border: 1px solid #a12a1f; background: #fff; color: #a12a1f; cursor: pointer; min-height: 44px;
    }
  `}render(){const e=this.entry;return d`
      ${this.phase.kind==="loading"?d`<p class="loading">Loading ${e?.title??"page"}…</p>`:g}
      ${this.phase.kind==="failed"&&e?d`<section class="error-card" role="alert" data-plugin=${e.plugin}>
            <h2>${e.title} could not be shown</h2>
            <p>The page of plugin <strong>${e.plugin_title}</strong> (${e.plugin}) failed to load.</p>
            <p><code>${this.phase.message}</code></p>
            <p>Other pages keep working.</p>
            <button @click=${()=>this.remount(!0)}>Try again</button>
          </section>`:g}
      <div class="outlet" ?hidden=${this.phase.kind!=="mounted"}><slot></slot></div>
    `}updated(){const e=this.entry,t=e?`${e.module??e.error}#${this.subpath}`:null;t!==this.mountedKey&&(this.mountedKey=t,this.remount(!1))}disconnectedCallback(){super.disconnectedCallback(),this.teardown()}teardown(){this.generation+=1;const e=this.unmount;this.unmount=null;try{e?.()}catch{}this.replaceChildren()}async remount(e){const{entry:t,loader:o,context:n}=this;this.teardown();const i=this.generation;if(!(!t||!o||!n)){this.phase={kind:"loading"};try{const r=await o.load(t.module,t.integrity,t.error);if(i!==this.generation)return;Array.isArray(r.tuples)&&this.registerTuples(r.tuples);const u=r.mount;if(typeof u!="function")throw new Error("the module exports no mount(host, ctx) function");const a=document.createElement("div");a.className="plugin-page",a.dataset.plugin=t.plugin,this.append(a);const p=await u(a,n(t));if(i!==this.generation){typeof p=="function"&&p();return}this.unmount=typeof p=="function"?p:null,this.phase={kind:"mounted"}}catch(r){if(i!==this.generation)return;this.replaceChildren(),this.phase={kind:"failed",message:r instanceof Error?r.message:String(r)}}}}}const N=s=>({app:s,version:0,pages:[],apis:{}});function P(s,e){if(typeof e!="object"||e===null)throw new Error("the pages index is not an object");const t=e;if(!Array.isArray(t.pages))throw new Error("the pages index has no list of pages");const o=t.pages.filter(i=>typeof i=="object"&&i!==null&&typeof i.route=="string"&&typeof i.title=="string"&&typeof i.plugin=="string"),n=typeof t.apis=="object"&&t.apis!==null?t.apis:{};return{app:s,version:typeof t.version=="number"?t.version:0,pages:o,apis:n}}function U(s,e=""){return{watch(t,o){let n=!1,i=-1;const r=a=>{n||a.version<i||(i=a.version,t(a))};fetch(`${e}/ui/pages/${s}`,{credentials:"same-origin"}).then(async a=>{if(!a.ok)throw new Error(`the pages index answered HTTP ${a.status}`);r(P(s,await a.json()))}).catch(a=>{n||o(a)});const u=new EventSource(`${e}/ui/pages/${s}/events`);return u.addEventListener("index",a=>{try{r(P(s,JSON.parse(a.data)))}catch(p){o(p)}}),()=>{n=!0,u.close()}}}}function O(s){const e=s.replace(/^#/,"").replace(/^\/+/,""),t=e.indexOf("/");return t<0?{route:decodeURIComponent(e),subpath:""}:{route:decodeURIComponent(e.slice(0,t)),subpath:e.slice(t+1)}}function x(s,e=""){const t=`#/${encodeURIComponent(s)}`;return e?`${t}/${e}`:t}const I=S`
  :host {
    display: block; min-height: 100vh; color: #1d2430; background: #f4f6f9;
    font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  }
  * { box-sizing: border-box; }
  button { font: inherit; }
  .icon { width: 22px; height: 22px; flex: none; }
  .topbar {
    display: flex; align-items: center; gap: 0.75rem; padding: 0 1rem; height: 56px;
    background: #16324f; color: #fff; position: sticky; top: 0; z-index: 2;
  }
  .brand { font-weight: 650; letter-spacing: 0.01em; margin-right: auto; white-space: nowrap; }
  .user { opacity: 0.9; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .logout {
    background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.5);
    border-radius: 8px; padding: 0.35rem 0.8rem; cursor: pointer; min-height: 36px;
  }
  .conn {
    display: inline-flex; align-items: center; gap: 0.4rem; font-size: 0.85rem;
    padding: 0.2rem 0.65rem; border-radius: 999px; background: rgba(255,255,255,.12); white-space: nowrap;
  }
  .conn::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: currentColor; }
  .conn[data-state="online"] { color: #7ee2a8; }
  .conn[data-state="reconnecting"] { color: #ffd166; }
  .conn[data-state="offline"] { color: #ff8a80; }
  .conn span { color: #fff; }
  .nav a {
    display: flex; align-items: center; gap: 0.6rem; color: inherit; text-decoration: none;
  }
  .content { padding: 1.25rem; min-width: 0; }
  .banner {
    margin: 0 0 1rem; padding: 0.6rem 0.9rem; border-radius: 8px; background: #fff4d6; color: #6b4e00;
  }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; }
  .tiles { display: grid; gap: 0.75rem; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); }
  .tile {
    display: flex; gap: 0.75rem; align-items: center; padding: 1rem; border-radius: 12px;
    background: #fff; border: 1px solid #dde3ea; color: inherit; text-decoration: none; min-height: 64px;
  }
  .tile small { display: block; color: #5b6472; }
  .empty { color: #5b6472; }

  /* desktop and admin: a side navigation beside the page */
  .layout-side { display: grid; grid-template-columns: 15rem 1fr; min-height: calc(100vh - 56px); }
  .layout-side .nav { background: #fff; border-right: 1px solid #dde3ea; padding: 0.75rem 0.5rem; }
  .layout-side .nav a { padding: 0.55rem 0.75rem; border-radius: 8px; margin-bottom: 2px; }
  .layout-side .nav a:hover { background: #eef2f7; }
  .layout-side .nav a[aria-current="page"] { background: #e1ecf8; color: #0f4c8a; font-weight: 600; }

  /* mobile: one column, touch-sized bottom navigation */
  .layout-bottom .content { padding: 1rem 0.9rem calc(76px + env(safe-area-inset-bottom)); }
  .layout-bottom .nav {
    position: fixed; bottom: 0; left: 0; right: 0; z-index: 2; display: flex; overflow-x: auto;
    background: #fff; border-top: 1px solid #dde3ea; padding-bottom: env(safe-area-inset-bottom);
  }
  .layout-bottom .nav a {
    flex: 1 0 4.5rem; flex-direction: column; justify-content: center; gap: 0.15rem;
    min-height: 64px; font-size: 0.75rem; color: #5b6472; padding: 0.4rem 0.25rem; text-align: center;
  }
  .layout-bottom .nav a[aria-current="page"] { color: #0f4c8a; font-weight: 600; }
  .layout-bottom .tiles { grid-template-columns: 1fr; }
  .shell-bottom .topbar { gap: 0.5rem; padding: 0 0.75rem; }
  .shell-bottom .brand { font-size: 1rem; }
  .shell-bottom .user { display: none; }
  .logout { white-space: nowrap; }

  .login { max-width: 24rem; margin: 12vh auto 0; padding: 0 1rem; }
  .login form {
    background: #fff; border: 1px solid #dde3ea; border-radius: 14px; padding: 1.5rem;
    display: grid; gap: 0.9rem;
  }
  .login h1 { margin: 0; }
  .login label { display: grid; gap: 0.3rem; font-weight: 550; }
  .login input {
    font: inherit; padding: 0.65rem 0.75rem; border: 1px solid #b9c3cf; border-radius: 8px; min-height: 48px;
  }
  .login button[type="submit"] {
    background: #16324f; color: #fff; border: 0; border-radius: 8px; padding: 0.75rem; min-height: 48px;
    cursor: pointer; font-weight: 600;
  }
  .login .problem { color: #a12a1f; margin: 0; }
`,_={online:"Online",reconnecting:"Reconnecting…",offline:"Offline"};class R extends M{constructor(){super(...arguments),this.loader=new j,this.user=null,this.connection="offline",this.index=null,this.route="",this.subpath="",this.loginProblem="",this.browserOnline=typeof navigator>"u"?!0:navigator.onLine,this.indexProblem="",this.subscriptions=[],this.stopPages=null,this.onHash=()=>this.readLocation(),this.onNetwork=()=>{this.browserOnline=navigator.onLine},this.contextFor=e=>{const t=()=>this.index??N(this.options.app);return{app:this.options.app,plugin:e.plugin,api:e.api,route:e.route,subpath:this.subpath,vortex:this.session.vortex,user:this.user,navigate:o=>this.navigate(o),http:this.session.http(e.api),uiApi:async o=>{const n=t().apis[o.replace(/^peek_plugin_/,"")];if(n===void 0)throw new Error(`plugin ${o} publishes no UI API here`);const i=await this.loader.load(n.module,n.integrity,n.error);return Array.isArray(i.tuples)&&this.session.registerTuples(i.tuples),i.default??i}}}}static{this.properties={user:{state:!0},connection:{state:!0},index:{state:!0},route:{state:!0},subpath:{state:!0},loginProblem:{state:!0},browserOnline:{state:!0},indexProblem:{state:!0}}}static{this.styles=I}connectedCallback(){super.connectedCallback(),this.readLocation(),window.addEventListener("hashchange",this.onHash),window.addEventListener("online",this.onNetwork),window.addEventListener("offline",this.onNetwork),this.subscriptions.push(this.session.user.subscribe(e=>this.setUser(e)),this.session.state.subscribe(e=>this.connection=e))}disconnectedCallback(){super.disconnectedCallback(),window.removeEventListener("hashchange",this.onHash),window.removeEventListener("online",this.onNetwork),window.removeEventListener("offline",this.onNetwork);for(const e of this.subscriptions)e.unsubscribe();this.subscriptions=[],this.stopPages?.(),this.stopPages=null}readLocation(){const{route:e,subpath:t}=O(window.location.hash);this.route=e,this.subpath=t}setUser(e){this.user=e,e!==null&&this.stopPages===null?this.stopPages=this.pages.watch(t=>{this.index=t,this.indexProblem=""},t=>{this.indexProblem=t instanceof Error?t.message:String(t)}):e===null&&this.stopPages!==null&&(this.stopPages(),this.stopPages=null,this.index=null)}navigate(e,t=""){window.location.hash=e?x(e,t):"#/"}async submitLogin(e){e.preventDefault();const t=e.target,o=new FormData(t),n=this.options.fixedUsername??String(o.get("username")??"").trim(),i=String(o.get("password")??"");this.loginProblem="";try{await this.session.login(n,i),t.reset()}catch(r){const u=r.code;this.loginProblem=u==="refused"||r.status===401?"Wrong username or password.":`Cannot log in right now: ${r instanceof Error?r.message:String(r)}`}}render(){return d`<div class=${`shell-${this.options.layout}`}>
      ${this.user===null?this.renderLogin():this.renderApp(this.user)}
    </div>`}get connectionState(){return this.connection!=="online"&&!this.browserOnline?"offline":this.connection}renderConnection(){const e=this.connectionState;return d`<span class="conn" data-state=${e} role="status" aria-live="polite"
      ><span>${_[e]}</span></span
    >`}renderLogin(){const e=this.options.fixedUsername;return d`
      <header class="topbar"><span class="brand">${this.options.title}</span>${this.renderConnection()}</header>
      <div class="login">
        <form @submit=${t=>{this.submitLogin(t)}}>
          <h1>Log in</h1>
          ${e?d`<p>Administrator password for <strong>${e}</strong>.</p>`:d`<label>Username <input name="username" autocomplete="username" required /></label>`}
          <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
          ${this.loginProblem?d`<p class="problem" role="alert">${this.loginProblem}</p>`:g}
          <button type="submit">Log in</button>
        </form>
      </div>
    `}renderApp(e){const t=this.index?.pages??[],o=this.route?t.find(i=>i.route===this.route):void 0,n=(i,r,u)=>d`<a href=${i?x(i):"#/"} data-route=${i}
        aria-current=${this.route===i?"page":g}>${k(u)}<span>${r}</span></a>`;return d`
      <header class="topbar">
        <span class="brand">${this.options.title}</span>
        ${this.renderConnection()}
        <span class="user" title=${e.username}>${e.displayName??e.username}</span>
        <button class="logout" @click=${()=>{this.session.logout()}}>Log out</button>
      </header>
      <div class=${`layout-${this.options.layout}`}>
        <nav class="nav" aria-label="Pages">
          ${n("","Home","home")} ${t.map(i=>n(i.route,i.title,i.icon))}
        </nav>
        <main class="content">
          ${this.indexProblem?d`<p class="banner">Pages may be out of date: ${this.indexProblem}</p>`:g}
          ${this.route===""?this.renderHome(e,t):g}
          ${this.route!==""&&o?d`<peek-page-host
                .entry=${o}
                .loader=${this.loader}
                .context=${this.contextFor}
                .subpath=${this.subpath}
                .registerTuples=${i=>this.session.registerTuples(i)}
              ></peek-page-host>`:g}
          ${this.route!==""&&!o&&this.index!==null?d`<h1>Page not found</h1><p class="empty">No plugin offers “${this.route}” here (any more).</p>
                <p><a href="#/">Back to the home page</a></p>`:g}
        </main>
      </div>
    `}renderHome(e,t){return d`
      <h1>Welcome, ${e.displayName??e.username}</h1>
      ${t.length===0?d`<p class="empty">${this.index===null?"Loading pages…":"No plugin offers a page here yet."}</p>`:d`<div class="tiles">
            ${t.map(o=>d`<a class="tile" href=${x(o.route)}
                >${k(o.icon)}<span>${o.title}<small>${o.plugin_title}</small></span></a
              >`)}
          </div>`}
    `}}function B(){customElements.get("peek-page-host")||customElements.define("peek-page-host",z),customElements.get("peek-shell")||customElements.define("peek-shell",R)}class F extends Error{constructor(e,t){super(t),this.status=e,this.name="HttpError"}}function E(s,e){const t=s.tuples;for(const o of e){const n=o;typeof n.name!="string"||typeof n.fields!="object"||t.get(n.name)===void 0&&t.register(o)}}function L(s){return{observe:(e,t)=>s.observe(e,t),action:async e=>await s.action(e),state:s.state$}}function D(s=globalThis.fetch.bind(globalThis)){const e=new v(null),t=new v("offline");let o=null,n=null,i=null;const r=[],u=()=>{const l=new T({tuples:[],store:"peek-admin-vortex"});return E(l,r),i?.unsubscribe(),i=l.state$.subscribe(c=>t.next(c)),n=l,l},a=()=>n??u(),p=async()=>{const c=await(await s("/api/admin/session",{credentials:"same-origin"})).json();o=c.csrf,c.user!==null&&e.value?.username!==c.user?(a().connect(),e.next({username:c.user,isAdmin:!0})):c.user===null&&e.next(null)};return p().catch(()=>t.next("offline")),{user:e,state:t,vortex:{observe:(l,c)=>L(a()).observe(l,c),action:l=>L(a()).action(l),state:t},http:l=>({async json(c,b,w){const h=await s(`/plugins/${l}${b.startsWith("/")?b:`/${b}`}`,{method:c,credentials:"same-origin",headers:{"Content-Type":"application/json","X-Peek-CSRF":o??""},body:w===void 0?null:JSON.stringify(w)});if(h.status===401&&e.next(null),!h.ok){let f=`HTTP ${h.status}`;try{const y=await h.json();y.error&&(f=y.error)}catch{f=await h.text().catch(()=>"")||f}throw new F(h.status,f)}return h.status===204?void 0:await h.json()}}),login:async(l,c)=>{await a().login(l,c),await p()},logout:async()=>{const l=n;n=null,o=null,e.next(null),l!==null&&(await l.logout().catch(()=>{}),await l.close()),t.next("offline")},registerTuples:l=>{r.push(...l),n!==null&&E(n,l)}}}function K(s,e,t=U(s.app),o=document.body){B();const n=document.createElement("peek-shell");return n.options=s,n.session=e,n.pages=t,o.replaceChildren(n),n}K({app:"admin",title:"Peek Admin",layout:"side",fixedUsername:"admin"},D());
