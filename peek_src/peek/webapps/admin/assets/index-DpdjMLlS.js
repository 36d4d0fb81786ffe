import{w as m,i as w,b as y,A as p,d as i}from"./lit-element-C9UjNeOd.js";import{B as P,V as j}from"./vortex-Cbn3N7_q.js";const E={home:m`<path d="M3 11 12 4l9 7v9h-6v-6H9v6H3z"/>`,bolt:m`<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>`,people:m`<circle cx="9" cy="8" r="3.5"/><circle cx="17" cy="9" r="2.5"/><path d="M2 20c0-4 3-6 7-6s7 2 7 6M15 14c4 0 7 2 7 6"/>`,checklist:m`<path d="M4 6l2 2 3-3M4 13l2 2 3-3M4 20l2 2 3-3M12 7h9M12 14h9M12 21h9"/>`,gear:m`<circle cx="12" cy="12" r="3"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3"/>`,page:m`<path d="M6 2h9l5 5v15H6zM14 2v6h6"/>`};function S(s){return m`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${E[s]??E.page}</svg>`}class M extends Error{constructor(e,t){super(t),this.url=e,this.name="ModuleLoadError"}}function H(s,e){return new Promise((t,o)=>{const n=document.createElement("link");n.rel="modulepreload",n.integrity=e,n.href=s,n.onload=()=>t(),n.onerror=()=>o(new M(s,"the module could not be fetched, or its content does not match its integrity hash")),document.head.append(n)})}const z=s=>import(s);class A{constructor(e=H,t=z){this.preload=e,this.importer=t,this.loaded=new Map}load(e,t,o=null){if(e===null||t===null)return Promise.reject(new M(e,o??"the platform cannot serve this module"));let n=this.loaded.get(e);return n===void 0&&(n=this.preload(e,t).then(()=>this.importer(e)),this.loaded.set(e,n),n.catch(()=>this.loaded.delete(e))),n}}class O extends w{constructor(){super(...arguments),this.entry=null,this.loader=null,this.context=null,this.subpath="",this.registerTuples=()=>{},this.phase={kind:"loading"},this.unmount=null,this.mountedKey=null,this.generation=0}static{this.properties={entry:{attribute:!1},loader:{attribute:!1},context:{attribute:!1},subpath:{type:String},phase:{state:!0}}}static{this.styles=y`
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
  `}render(){const e=this.entry;return i`
      ${this.phase.kind==="loading"?i`<p class="loading">Loading ${e?.title??"page"}…</p>`:p}
      ${this.phase.kind==="failed"&&e?i`<section class="error-card" role="alert" data-plugin=${e.plugin}>
            <h2>${e.title} could not be shown</h2>
            <p>The page of plugin <strong>${e.plugin_title}</strong> (${e.plugin}) failed to load.</p>
            <p><code>${this.phase.message}</code></p>
            <p>Other pages keep working.</p>
            <button @click=${()=>this.remount(!0)}>Try again</button>
          </section>`:p}
      <div class="outlet" ?hidden=${this.phase.kind!=="mounted"}><slot></slot></div>
    `}updated(){const e=this.entry,t=e?`${e.module??e.error}#${this.subpath}`:null;t!==this.mountedKey&&(this.mountedKey=t,this.remount(!1))}disconnectedCallback(){super.disconnectedCallback(),this.teardown()}teardown(){this.generation+=1;const e=this.unmount;this.unmount=null;try{e?.()}catch{}this.replaceChildren()}async remount(e){const{entry:t,loader:o,context:n}=this;this.teardown();const r=this.generation;if(!(!t||!o||!n)){this.phase={kind:"loading"};try{const a=await o.load(t.module,t.integrity,t.error);if(r!==this.generation)return;Array.isArray(a.tuples)&&this.registerTuples(a.tuples);const l=a.mount;if(typeof l!="function")throw new Error("the module exports no mount(host, ctx) function");const d=document.createElement("div");d.className="plugin-page",d.dataset.plugin=t.plugin,this.append(d);const h=await l(d,n(t));if(r!==this.generation){typeof h=="function"&&h();return}this.unmount=typeof h=="function"?h:null,this.phase={kind:"mounted"}}catch(a){if(r!==this.generation)return;this.replaceChildren(),this.phase={kind:"failed",message:a instanceof Error?a.message:String(a)}}}}}const R=s=>({app:s,version:0,pages:[],apis:{}});function T(s,e){if(typeof e!="object"||e===null)throw new Error("the pages index is not an object");const t=e;if(!Array.isArray(t.pages))throw new Error("the pages index has no list of pages");const o=t.pages.filter(r=>typeof r=="object"&&r!==null&&typeof r.route=="string"&&typeof r.title=="string"&&typeof r.plugin=="string"),n=typeof t.apis=="object"&&t.apis!==null?t.apis:{};return{app:s,version:typeof t.version=="number"?t.version:0,pages:o,apis:n}}function N(s,e=""){return{watch(t,o){let n=!1,r=-1;const a=d=>{n||d.version<r||(r=d.version,t(d))};fetch(`${e}/ui/pages/${s}`,{credentials:"same-origin"}).then(async d=>{if(!d.ok)throw new Error(`the pages index answered HTTP ${d.status}`);a(T(s,await d.json()))}).catch(d=>{n||o(d)});const l=new EventSource(`${e}/ui/pages/${s}/events`);return l.addEventListener("index",d=>{try{a(T(s,JSON.parse(d.data)))}catch(h){o(h)}}),()=>{n=!0,l.close()}}}}function U(s){const e=s.replace(/^#/,"").replace(/^\/+/,""),t=e.indexOf("/");return t<0?{route:decodeURIComponent(e),subpath:""}:{route:decodeURIComponent(e.slice(0,t)),subpath:e.slice(t+1)}}function v(s,e=""){const t=`#/${encodeURIComponent(s)}`;return e?`${t}/${e}`:t}const D=y`
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
`,I={online:"Online",reconnecting:"Reconnecting…",offline:"Offline"};class _ extends w{constructor(){super(...arguments),this.loader=new A,this.user=null,this.connection="offline",this.index=null,this.route="",this.subpath="",this.loginProblem="",this.browserOnline=typeof navigator>"u"?!0:navigator.onLine,this.indexProblem="",this.subscriptions=[],this.stopPages=null,this.platformElements=new Map,this.onHash=()=>this.readLocation(),this.onNetwork=()=>{this.browserOnline=navigator.onLine},this.contextFor=e=>{const t=()=>this.index??R(this.options.app);return{app:this.options.app,plugin:e.plugin,api:e.api,route:e.route,subpath:this.subpath,vortex:this.session.vortex,user:this.user,navigate:o=>this.navigate(o),http:this.session.http(e.api),uiApi:async o=>{const n=t().apis[o.replace(/^peek_plugin_/,"")];if(n===void 0)throw new Error(`plugin ${o} publishes no UI API here`);const r=await this.loader.load(n.module,n.integrity,n.error);return Array.isArray(r.tuples)&&this.session.registerTuples(r.tuples),r.default??r}}}}static{this.properties={user:{state:!0},connection:{state:!0},index:{state:!0},route:{state:!0},subpath:{state:!0},loginProblem:{state:!0},browserOnline:{state:!0},indexProblem:{state:!0}}}static{this.styles=D}connectedCallback(){super.connectedCallback(),this.readLocation(),window.addEventListener("hashchange",this.onHash),window.addEventListener("online",this.onNetwork),window.addEventListener("offline",this.onNetwork),this.subscriptions.push(this.session.user.subscribe(e=>this.setUser(e)),this.session.state.subscribe(e=>this.connection=e))}disconnectedCallback(){super.disconnectedCallback(),window.removeEventListener("hashchange",this.onHash),window.removeEventListener("online",this.onNetwork),window.removeEventListener("offline",this.onNetwork);for(const e of this.subscriptions)e.unsubscribe();this.subscriptions=[],this.stopPages?.(),this.stopPages=null}readLocation(){const{route:e,subpath:t}=U(window.location.hash);this.route=e,this.subpath=t}setUser(e){this.user=e,e!==null&&this.stopPages===null?this.stopPages=this.pages.watch(t=>{this.index=t,this.indexProblem=""},t=>{this.indexProblem=t instanceof Error?t.message:String(t)}):e===null&&this.stopPages!==null&&(this.stopPages(),this.stopPages=null,this.index=null,this.platformElements.clear())}navigate(e,t=""){window.location.hash=e?v(e,t):"#/"}async submitLogin(e){e.preventDefault();const t=e.target,o=new FormData(t),n=this.options.fixedUsername??String(o.get("username")??"").trim(),r=String(o.get("password")??"");this.loginProblem="";try{await this.session.login(n,r),t.reset()}catch(a){const l=a.code;this.loginProblem=l==="refused"||a.status===401?"Wrong username or password.":`Cannot log in right now: ${a instanceof Error?a.message:String(a)}`}}render(){return i`<div class=${`shell-${this.options.layout}`}>
      ${this.user===null?this.renderLogin():this.renderApp(this.user)}
    </div>`}get connectionState(){return this.connection!=="online"&&!this.browserOnline?"offline":this.connection}renderConnection(){const e=this.connectionState;return i`<span class="conn" data-state=${e} role="status" aria-live="polite"
      ><span>${I[e]}</span></span
    >`}renderLogin(){const e=this.options.fixedUsername;return i`
      <header class="topbar"><span class="brand">${this.options.title}</span>${this.renderConnection()}</header>
      <div class="login">
        <form @submit=${t=>{this.submitLogin(t)}}>
          <h1>Log in</h1>
          ${e?i`<p>Administrator password for <strong>${e}</strong>.</p>`:i`<label>Username <input name="username" autocomplete="username" required /></label>`}
          <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
          ${this.loginProblem?i`<p class="problem" role="alert">${this.loginProblem}</p>`:p}
          <button type="submit">Log in</button>
        </form>
      </div>
    `}platformElement(e){let t=this.platformElements.get(e.route);return t===void 0&&(t=e.create(this.session),this.platformElements.set(e.route,t)),t}renderApp(e){const t=this.options.platformPages??[],o=this.route?t.find(l=>l.route===this.route):void 0,n=(this.index?.pages??[]).filter(l=>!t.some(d=>d.route===l.route)),r=this.route&&!o?n.find(l=>l.route===this.route):void 0,a=(l,d,h)=>i`<a href=${l?v(l):"#/"} data-route=${l}
        aria-current=${this.route===l?"page":p}>${S(h)}<span>${d}</span></a>`;return i`
      <header class="topbar">
        <span class="brand">${this.options.title}</span>
        ${this.renderConnection()}
        <span class="user" title=${e.username}>${e.displayName??e.username}</span>
        <button class="logout" @click=${()=>{this.session.logout()}}>Log out</button>
      </header>
      <div class=${`layout-${this.options.layout}`}>
        <nav class="nav" aria-label="Pages">
          ${a("","Home","home")} ${t.map(l=>a(l.route,l.title,l.icon))}
          ${n.map(l=>a(l.route,l.title,l.icon))}
        </nav>
        <main class="content">
          ${this.indexProblem?i`<p class="banner">Pages may be out of date: ${this.indexProblem}</p>`:p}
          ${this.route===""?this.renderHome(e,n):p}
          ${o?this.platformElement(o):p}
          ${this.route!==""&&r?i`<peek-page-host
                .entry=${r}
                .loader=${this.loader}
                .context=${this.contextFor}
                .subpath=${this.subpath}
                .registerTuples=${l=>this.session.registerTuples(l)}
              ></peek-page-host>`:p}
          ${this.route!==""&&!o&&!r&&this.index!==null?i`<h1>Page not found</h1><p class="empty">No plugin offers “${this.route}” here (any more).</p>
                <p><a href="#/">Back to the home page</a></p>`:p}
        </main>
      </div>
    `}renderHome(e,t){return i`
      <h1>Welcome, ${e.displayName??e.username}</h1>
      ${t.length===0?i`<p class="empty">${this.index===null?"Loading pages…":"No plugin offers a page here yet."}</p>`:i`<div class="tiles">
            ${t.map(o=>i`<a class="tile" href=${v(o.route)}
                >${S(o.icon)}<span>${o.title}<small>${o.plugin_title}</small></span></a
              >`)}
          </div>`}
    `}}function F(){customElements.get("peek-page-host")||customElements.define("peek-page-host",O),customElements.get("peek-shell")||customElements.define("peek-shell",_)}class q extends Error{constructor(e,t){super(t),this.status=e,this.name="HttpError"}}function C(s,e){for(const t of e){if(typeof t!="object"||t===null)continue;const o=t;if(!(typeof o.name!="string"||typeof o.fields!="object"))try{s.registerTuples(t)}catch(n){if(!(n instanceof TypeError))throw n}}}function L(s){return{observe:(e,t)=>s.observe(e,t),action:async e=>await s.action(e),state:s.state$}}function B(s=globalThis.fetch.bind(globalThis)){const e=new P(null),t=new P("offline");let o=null,n=null,r=null;const a=[],l=()=>{const c=new j({tuples:[],store:"peek-admin-vortex"});return C(c,a),r?.unsubscribe(),r=c.state$.subscribe(u=>t.next(u)),n=c,c},d=()=>n??l(),h=async()=>{const u=await(await s("/api/admin/session",{credentials:"same-origin"})).json();o=u.csrf,u.user!==null&&e.value?.username!==u.user?(d().connect(),e.next({username:u.user,isAdmin:!0})):u.user===null&&e.next(null)};return h().catch(()=>t.next("offline")),{user:e,state:t,vortex:{observe:(c,u)=>L(d()).observe(c,u),action:c=>L(d()).action(c),state:t},http:c=>({async json(u,b,x){const g=await s(`/plugins/${c}${b.startsWith("/")?b:`/${b}`}`,{method:u,credentials:"same-origin",headers:{"Content-Type":"application/json","X-Peek-CSRF":o??""},body:x===void 0?null:JSON.stringify(x)});if(g.status===401&&e.next(null),!g.ok){let f=`HTTP ${g.status}`;try{const k=await g.json();k.error&&(f=k.error)}catch{f=await g.text().catch(()=>"")||f}throw new q(g.status,f)}return g.status===204?void 0:await g.json()}}),login:async(c,u)=>{await d().login(c,u),await h()},logout:async()=>{const c=n;n=null,o=null,e.next(null),c!==null&&(await c.logout().catch(()=>{}),await c.close()),t.next("offline")},registerTuples:c=>{a.push(...c),n!==null&&C(n,c)},csrfToken:()=>o}}function J(s,e,t=N(s.app),o=document.body){F();const n=document.createElement("peek-shell");return n.options=s,n.session=e,n.pages=t,o.replaceChildren(n),n}const V=["proposed","downloading","preparing","prepared","refused","committed","switched","restarting","healthy","unhealthy","aborted","reverting","reverted","failed","done"];async function $(s){const e=await s.text().catch(()=>"");try{const t=JSON.parse(e);if(typeof t.message=="string")return t.message;if(typeof t.error=="string")return t.error}catch{}return e.trim()||`HTTP ${s.status}`}class W extends w{constructor(){super(...arguments),this.session=null,this.data=null,this.history=[],this.rollout=null,this.uploading=null,this.problem="",this.dragging=!1,this.events=null}static{this.properties={data:{state:!0},history:{state:!0},rollout:{state:!0},uploading:{state:!0},problem:{state:!0},dragging:{state:!0}}}static{this.styles=y`
    :host { display: block; max-width: 60rem; }
    h1 { margin-top: 0; }
    h2 { font-size: 1.15rem; margin: 1.75rem 0 0.5rem; }
    .drop {
      border: 2px dashed #8aa0b8; border-radius: 12px; padding: 1.5rem; text-align: center;
      background: #fff; transition: background 0.15s;
    }
    .drop.dragging { background: #e6f0fb; border-color: #16324f; }
    .drop label { color: #16324f; font-weight: 600; text-decoration: underline; cursor: pointer; }
    .drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
    .drop input:focus-visible + span { outline: 2px solid #16324f; outline-offset: 2px; }
    progress { width: 100%; height: 1rem; }
    .problem {
      border-left: 6px solid #c0392b; background: #fff5f5; color: #7a1d14; padding: 0.75rem 1rem;
      border-radius: 8px; margin: 1rem 0;
    }
    table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 8px; }
    th, td { text-align: left; padding: 0.45rem 0.7rem; border-bottom: 1px solid #e3e7ee; vertical-align: top; }
    th { font-size: 0.85rem; color: #5b6472; font-weight: 600; }
    .step { display: inline-block; padding: 0.1rem 0.55rem; border-radius: 999px; background: #eef1f5; font-size: 0.85rem; }
    .step[data-step="healthy"], .step[data-state="active"] { background: #d9f5e3; color: #17603a; }
    .step[data-step="unhealthy"], .step[data-step="refused"], .step[data-state="failed"] { background: #fde2e0; color: #8a1f17; }
    button {
      font: inherit; padding: 0.35rem 0.9rem; border-radius: 8px; border: 1px solid #16324f;
      background: #fff; color: #16324f; cursor: pointer; min-height: 36px;
    }
    button:disabled { opacity: 0.5; cursor: default; }
    small { color: #5b6472; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  `}connectedCallback(){super.connectedCallback(),this.load().then(()=>{const e=this.data?.rollout;e&&e.state!=="active"&&this.rollout===null&&this.follow(e.generation)})}disconnectedCallback(){super.disconnectedCallback(),this.events?.close(),this.events=null}headers(){return{"X-Peek-CSRF":this.session?.csrfToken?.()??""}}async load(){try{const[e,t]=await Promise.all([fetch("/api/plugins"),fetch("/api/generations")]);if(!e.ok)throw new Error(await $(e));if(!t.ok)throw new Error(await $(t));this.data=await e.json(),this.history=(await t.json()).generations}catch(e){this.problem=`Cannot read the plugin set: ${e instanceof Error?e.message:String(e)}`}}follow(e){this.events?.close();const t={generation:e,steps:new Map,done:null};this.rollout=t;const o=new EventSource(`/api/generations/${e}/events`);this.events=o;const n=r=>{const a=JSON.parse(r.data);a.step==="done"?(t.done={state:a.state??"unknown",problems:a.problems??[]},o.close(),this.load()):t.steps.set(a.service,{step:a.step,detail:a.detail}),this.rollout={...t}};for(const r of V)o.addEventListener(r,n);o.onmessage=n}upload(e){this.problem="",this.uploading={name:e.name,percent:0};const t=new FormData;t.append("file",e,e.name);const o=new XMLHttpRequest;o.open("POST","/api/plugins");for(const[n,r]of Object.entries(this.headers()))o.setRequestHeader(n,r);o.upload.onprogress=n=>{n.lengthComputable&&(this.uploading={name:e.name,percent:Math.round(100*n.loaded/n.total)})},o.onload=()=>{this.uploading=null,this.answered(new Response(o.responseText,{status:o.status}))},o.onerror=()=>{this.uploading=null,this.problem=`The upload of ${e.name} failed: the server cannot be reached.`},o.send(t)}async answered(e){if(e.status!==202){this.problem=await $(e);return}const t=await e.json();this.follow(t.generation)}async rollback(e){this.problem="";const t=await fetch(`/api/generations/${e}/rollback`,{method:"POST",headers:this.headers()});await this.answered(t)}onDrop(e){e.preventDefault(),this.dragging=!1;const t=e.dataTransfer?.files[0];t&&this.upload(t)}onPick(e){const t=e.target,o=t.files?.[0];o&&this.upload(o),t.value=""}render(){const e=this.uploading!==null||this.rollout!==null&&this.rollout.done===null;return i`
      <h1>Plugins</h1>
      <section
        class=${this.dragging?"drop dragging":"drop"}
        data-testid="plugin-drop"
        aria-label="Upload a plugin"
        @dragover=${t=>{t.preventDefault(),this.dragging=!0}}
        @dragleave=${()=>this.dragging=!1}
        @drop=${t=>this.onDrop(t)}
      >
        <p>Drop a plugin (<code>.whl</code>, <code>.zip</code> or <code>.tar.gz</code>) here, or
          <label>pick a file<input type="file" accept=".whl,.zip,.gz" ?disabled=${e}
            @change=${t=>this.onPick(t)} /><span></span></label>.</p>
        ${this.uploading?i`<label>Uploading ${this.uploading.name}
              <progress max="100" value=${this.uploading.percent}>${this.uploading.percent}%</progress></label>`:p}
      </section>
      ${this.problem?i`<p class="problem" role="alert">${this.problem}</p>`:p}
      ${this.renderRollout()} ${this.renderServices()} ${this.renderHistory(e)}
    `}renderRollout(){const e=this.rollout;return e===null?p:i`<section aria-label="Rollout progress" data-generation=${e.generation}>
      <h2>Rollout of generation ${e.generation}</h2>
      <ul role="status" aria-live="polite">
        ${[...e.steps].map(([t,o])=>i`<li data-service=${t}>
            ${t}: <span class="step" data-step=${o.step}>${o.step}</span>
            ${o.detail?i`<small>${o.detail}</small>`:p}
          </li>`)}
      </ul>
      ${e.done?i`<p data-testid="rollout-outcome" data-state=${e.done.state}>
            Generation ${e.done.state==="active"?i`${e.generation} is active on every service.`:i`${e.generation}: ${e.done.state}.`}
            ${e.done.problems.map(t=>i`<br /><small>${t}</small>`)}
          </p>`:p}
    </section>`}renderServices(){const e=this.data;if(e===null)return i`<p>Loading the plugin set…</p>`;const t=e.services,o=(n,r)=>n.plugins===void 0?n.generation===e.generation?r.version:"?":n.plugins.find(a=>a.name===r.name)?.version??"—";return i`
      <h2>Active plugin set <small>(generation ${e.generation??"none"})</small></h2>
      <table data-testid="plugin-set">
        <thead>
          <tr><th scope="col">Plugin</th><th scope="col">Version</th>
            ${t.map(n=>i`<th scope="col">${n.kind} <small>${n.name}</small></th>`)}</tr>
        </thead>
        <tbody>
          ${e.plugins.map(n=>i`<tr data-plugin=${n.name}>
              <th scope="row">${n.name}</th><td>${n.version}</td>
              ${t.map(r=>i`<td data-service=${r.kind}>${o(r,n)}</td>`)}
            </tr>`)}
        </tbody>
      </table>
      <h2>Services</h2>
      <table data-testid="services">
        <thead><tr><th scope="col">Service</th><th scope="col">State</th><th scope="col">Generation</th></tr></thead>
        <tbody>
          ${t.map(n=>i`<tr data-service=${n.kind} data-generation=${n.generation??""}>
              <th scope="row">${n.kind} <small>${n.name}</small></th><td>${n.state}</td><td>${n.generation??"—"}</td>
            </tr>`)}
        </tbody>
      </table>
    `}renderHistory(e){return i`
      <h2>Generations</h2>
      <table data-testid="generations">
        <thead><tr><th scope="col">#</th><th scope="col">State</th><th scope="col">Plugins</th>
          <th scope="col">Why</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          ${this.history.map(t=>i`<tr data-generation=${t.number} data-state=${t.active?"active":t.state}>
              <th scope="row">${t.number}</th>
              <td><span class="step" data-state=${t.active?"active":t.state}>${t.active?"active":t.state}</span></td>
              <td>${t.plugins.map(o=>`${o.name} ${o.version}`).join(", ")}</td>
              <td>${t.reason} <small>by ${t.created_by}</small>
                ${t.problems.map(o=>i`<br /><small>${o}</small>`)}</td>
              <td>${t.active?p:i`<button ?disabled=${e} aria-label=${`Roll back to generation ${t.number}`}
                    @click=${()=>{this.rollback(t.number)}}>Rollback</button>`}</td>
            </tr>`)}
        </tbody>
      </table>
    `}}function X(){return customElements.get("peek-admin-plugins")||customElements.define("peek-admin-plugins",W),{route:"platform-plugins",title:"Plugins",icon:"gear",create:s=>{const e=document.createElement("peek-admin-plugins");return e.session=s,e}}}J({app:"admin",title:"Peek Admin",layout:"side",fixedUsername:"admin",platformPages:[X()]},B());
