import{w as f,i as y,b as x,A as p,d as r}from"./lit-element-C9UjNeOd.js";import{V as z,B as S}from"./vortex-BYjxnPEl.js";const T={home:f`<path d="M3 11 12 4l9 7v9h-6v-6H9v6H3z"/>`,bolt:f`<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>`,people:f`<circle cx="9" cy="8" r="3.5"/><circle cx="17" cy="9" r="2.5"/><path d="M2 20c0-4 3-6 7-6s7 2 7 6M15 14c4 0 7 2 7 6"/>`,checklist:f`<path d="M4 6l2 2 3-3M4 13l2 2 3-3M4 20l2 2 3-3M12 7h9M12 14h9M12 21h9"/>`,gear:f`<circle cx="12" cy="12" r="3"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3"/>`,page:f`<path d="M6 2h9l5 5v15H6zM14 2v6h6"/>`};function L(i){return f`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${T[i]??T.page}</svg>`}class A extends Error{constructor(e,t){super(t),this.url=e,this.name="ModuleLoadError"}}function H(i,e){return new Promise((t,n)=>{const s=document.createElement("link");s.rel="modulepreload",s.integrity=e,s.href=i,s.onload=()=>t(),s.onerror=()=>n(new A(i,"the module could not be fetched, or its content does not match its integrity hash")),document.head.append(s)})}const O=i=>import(i);class U{constructor(e=H,t=O){this.preload=e,this.importer=t,this.loaded=new Map}load(e,t,n=null){if(e===null||t===null)return Promise.reject(new A(e,n??"the platform cannot serve this module"));let s=this.loaded.get(e);return s===void 0&&(s=this.preload(e,t).then(()=>this.importer(e)),this.loaded.set(e,s),s.catch(()=>this.loaded.delete(e))),s}}class N extends y{constructor(){super(...arguments),this.entry=null,this.loader=null,this.context=null,this.subpath="",this.registerTuples=()=>{},this.phase={kind:"loading"},this.unmount=null,this.mountedKey=null,this.generation=0}static{this.properties={entry:{attribute:!1},loader:{attribute:!1},context:{attribute:!1},subpath:{type:String},phase:{state:!0}}}static{this.styles=x`
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
  `}render(){const e=this.entry;return r`
      ${this.phase.kind==="loading"?r`<p class="loading">Loading ${e?.title??"page"}…</p>`:p}
      ${this.phase.kind==="failed"&&e?r`<section class="error-card" role="alert" data-plugin=${e.plugin}>
            <h2>${e.title} could not be shown</h2>
            <p>The page of plugin <strong>${e.plugin_title}</strong> (${e.plugin}) failed to load.</p>
            <p><code>${this.phase.message}</code></p>
            <p>Other pages keep working.</p>
            <button @click=${()=>this.remount(!0)}>Try again</button>
          </section>`:p}
      <div class="outlet" ?hidden=${this.phase.kind!=="mounted"}><slot></slot></div>
    `}updated(){const e=this.entry,t=e?`${e.module??e.error}#${this.subpath}`:null;t!==this.mountedKey&&(this.mountedKey=t,this.remount(!1))}disconnectedCallback(){super.disconnectedCallback(),this.teardown()}teardown(){this.generation+=1;const e=this.unmount;this.unmount=null;try{e?.()}catch{}this.replaceChildren()}async remount(e){const{entry:t,loader:n,context:s}=this;this.teardown();const o=this.generation;if(!(!t||!n||!s)){this.phase={kind:"loading"};try{const a=await n.load(t.module,t.integrity,t.error);if(o!==this.generation)return;Array.isArray(a.tuples)&&this.registerTuples(a.tuples);const l=a.mount;if(typeof l!="function")throw new Error("the module exports no mount(host, ctx) function");const d=document.createElement("div");d.className="plugin-page",d.dataset.plugin=t.plugin,this.append(d);const u=await l(d,s(t));if(o!==this.generation){typeof u=="function"&&u();return}this.unmount=typeof u=="function"?u:null,this.phase={kind:"mounted"}}catch(a){if(o!==this.generation)return;this.replaceChildren(),this.phase={kind:"failed",message:a instanceof Error?a.message:String(a)}}}}}const D=i=>({app:i,version:0,pages:[],apis:{}});function C(i,e){if(typeof e!="object"||e===null)throw new Error("the pages index is not an object");const t=e;if(!Array.isArray(t.pages))throw new Error("the pages index has no list of pages");const n=t.pages.filter(o=>typeof o=="object"&&o!==null&&typeof o.route=="string"&&typeof o.title=="string"&&typeof o.plugin=="string"),s=typeof t.apis=="object"&&t.apis!==null?t.apis:{};return{app:i,version:typeof t.version=="number"?t.version:0,pages:n,apis:s}}function I(i,e=""){return{watch(t,n){let s=!1,o=-1;const a=d=>{s||d.version<o||(o=d.version,t(d))};fetch(`${e}/ui/pages/${i}`,{credentials:"same-origin"}).then(async d=>{if(!d.ok)throw new Error(`the pages index answered HTTP ${d.status}`);a(C(i,await d.json()))}).catch(d=>{s||n(d)});const l=new EventSource(`${e}/ui/pages/${i}/events`);return l.addEventListener("index",d=>{try{a(C(i,JSON.parse(d.data)))}catch(u){n(u)}}),()=>{s=!0,l.close()}}}}function F(i){const e=i.replace(/^#/,"").replace(/^\/+/,""),t=e.indexOf("/");return t<0?{route:decodeURIComponent(e),subpath:""}:{route:decodeURIComponent(e.slice(0,t)),subpath:e.slice(t+1)}}function v(i,e=""){const t=`#/${encodeURIComponent(i)}`;return e?`${t}/${e}`:t}const _=x`
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
`,q={online:"Online",reconnecting:"Reconnecting…",offline:"Offline"};class B extends y{constructor(){super(...arguments),this.loader=new U,this.user=null,this.connection="offline",this.index=null,this.route="",this.subpath="",this.loginProblem="",this.browserOnline=typeof navigator>"u"?!0:navigator.onLine,this.indexProblem="",this.subscriptions=[],this.stopPages=null,this.platformElements=new Map,this.onHash=()=>this.readLocation(),this.onNetwork=()=>{this.browserOnline=navigator.onLine},this.contextFor=e=>{const t=()=>this.index??D(this.options.app);return{app:this.options.app,plugin:e.plugin,api:e.api,route:e.route,subpath:this.subpath,vortex:this.session.vortex,user:this.user,navigate:n=>this.navigate(n),http:this.session.http(e.api),uiApi:async n=>{const s=t().apis[n.replace(/^peek_plugin_/,"")];if(s===void 0)throw new Error(`plugin ${n} publishes no UI API here`);const o=await this.loader.load(s.module,s.integrity,s.error);return Array.isArray(o.tuples)&&this.session.registerTuples(o.tuples),o.default??o}}}}static{this.properties={user:{state:!0},connection:{state:!0},index:{state:!0},route:{state:!0},subpath:{state:!0},loginProblem:{state:!0},browserOnline:{state:!0},indexProblem:{state:!0}}}static{this.styles=_}connectedCallback(){super.connectedCallback(),this.readLocation(),window.addEventListener("hashchange",this.onHash),window.addEventListener("online",this.onNetwork),window.addEventListener("offline",this.onNetwork),this.subscriptions.push(this.session.user.subscribe(e=>this.setUser(e)),this.session.state.subscribe(e=>this.connection=e))}disconnectedCallback(){super.disconnectedCallback(),window.removeEventListener("hashchange",this.onHash),window.removeEventListener("online",this.onNetwork),window.removeEventListener("offline",this.onNetwork);for(const e of this.subscriptions)e.unsubscribe();this.subscriptions=[],this.stopPages?.(),this.stopPages=null}readLocation(){const{route:e,subpath:t}=F(window.location.hash);this.route=e,this.subpath=t}setUser(e){this.user=e,e!==null&&this.stopPages===null?this.stopPages=this.pages.watch(t=>{this.index=t,this.indexProblem=""},t=>{this.indexProblem=t instanceof Error?t.message:String(t)}):e===null&&this.stopPages!==null&&(this.stopPages(),this.stopPages=null,this.index=null,this.platformElements.clear())}navigate(e,t=""){window.location.hash=e?v(e,t):"#/"}async submitLogin(e){e.preventDefault();const t=e.target,n=new FormData(t),s=this.options.fixedUsername??String(n.get("username")??"").trim(),o=String(n.get("password")??"");this.loginProblem="";try{await this.session.login(s,o),t.reset()}catch(a){const{code:l,status:d,retryAfter:u}=a;l==="refused"||d===401?this.loginProblem="Wrong username or password.":l==="throttled"||d===429?this.loginProblem=typeof u=="number"?`Too many failed logins. Try again in ${u} s.`:"Too many failed logins. Try again later.":this.loginProblem=`Cannot log in right now: ${a instanceof Error?a.message:String(a)}`}}render(){return r`<div class=${`shell-${this.options.layout}`}>
      ${this.user===null?this.renderLogin():this.renderApp(this.user)}
    </div>`}get connectionState(){return this.connection!=="online"&&!this.browserOnline?"offline":this.connection}renderConnection(){const e=this.connectionState;return r`<span class="conn" data-state=${e} role="status" aria-live="polite"
      ><span>${q[e]}</span></span
    >`}renderLogin(){const e=this.options.fixedUsername;return r`
      <header class="topbar"><span class="brand">${this.options.title}</span>${this.renderConnection()}</header>
      <div class="login">
        <form @submit=${t=>{this.submitLogin(t)}}>
          <h1>Log in</h1>
          ${e?r`<p>Administrator password for <strong>${e}</strong>.</p>`:r`<label>Username <input name="username" autocomplete="username" required /></label>`}
          <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
          ${this.loginProblem?r`<p class="problem" role="alert">${this.loginProblem}</p>`:p}
          <button type="submit">Log in</button>
        </form>
      </div>
    `}platformElement(e){let t=this.platformElements.get(e.route);return t===void 0&&(t=e.create(this.session),this.platformElements.set(e.route,t)),t}renderApp(e){const t=this.options.platformPages??[],n=this.route?t.find(l=>l.route===this.route):void 0,s=(this.index?.pages??[]).filter(l=>!t.some(d=>d.route===l.route)),o=this.route&&!n?s.find(l=>l.route===this.route):void 0,a=(l,d,u)=>r`<a href=${l?v(l):"#/"} data-route=${l}
        aria-current=${this.route===l?"page":p}>${L(u)}<span>${d}</span></a>`;return r`
      <header class="topbar">
        <span class="brand">${this.options.title}</span>
        ${this.renderConnection()}
        <span class="user" title=${e.username}>${e.displayName??e.username}</span>
        <button class="logout" @click=${()=>{this.session.logout()}}>Log out</button>
      </header>
      <div class=${`layout-${this.options.layout}`}>
        <nav class="nav" aria-label="Pages">
          ${a("","Home","home")} ${t.map(l=>a(l.route,l.title,l.icon))}
          ${s.map(l=>a(l.route,l.title,l.icon))}
        </nav>
        <main class="content">
          ${this.indexProblem?r`<p class="banner">Pages may be out of date: ${this.indexProblem}</p>`:p}
          ${this.route===""?this.renderHome(e,s):p}
          ${n?this.platformElement(n):p}
          ${this.route!==""&&o?r`<peek-page-host
                .entry=${o}
                .loader=${this.loader}
                .context=${this.contextFor}
                .subpath=${this.subpath}
                .registerTuples=${l=>this.session.registerTuples(l)}
              ></peek-page-host>`:p}
          ${this.route!==""&&!n&&!o&&this.index!==null?r`<h1>Page not found</h1><p class="empty">No plugin offers “${this.route}” here (any more).</p>
                <p><a href="#/">Back to the home page</a></p>`:p}
        </main>
      </div>
    `}renderHome(e,t){return r`
      <h1>Welcome, ${e.displayName??e.username}</h1>
      ${t.length===0?r`<p class="empty">${this.index===null?"Loading pages…":"No plugin offers a page here yet."}</p>`:r`<div class="tiles">
            ${t.map(n=>r`<a class="tile" href=${v(n.route)}
                >${L(n.icon)}<span>${n.title}<small>${n.plugin_title}</small></span></a
              >`)}
          </div>`}
    `}}function J(){customElements.get("peek-page-host")||customElements.define("peek-page-host",N),customElements.get("peek-shell")||customElements.define("peek-shell",B)}class V extends Error{constructor(e,t){super(t),this.status=e,this.name="HttpError"}}function M(i,e){for(const t of e){if(typeof t!="object"||t===null)continue;const n=t;if(!(typeof n.name!="string"||typeof n.fields!="object"))try{i.registerTuples(t)}catch(s){if(!(s instanceof TypeError))throw s}}}function R(i){return{observe:(e,t)=>i.observe(e,t),action:async e=>await i.action(e),state:i.state$}}function W(i=globalThis.fetch.bind(globalThis),e=()=>new z({tuples:[],store:"peek-admin-vortex",relogin:!1})){const t=new S(null),n=new S("offline");let s=null,o=null,a=null,l=null;const d=[],u=async c=>{o===c&&(o=null,s=null,l?.unsubscribe(),a?.unsubscribe(),n.next("offline"),t.next(null),await c.close().catch(()=>{}))},j=()=>{const c=e();M(c,d),a?.unsubscribe(),a=c.state$.subscribe(g=>n.next(g)),l?.unsubscribe();let h=!1;return l=c.user$.subscribe(g=>{g!==null?h=!0:h&&u(c)}),o=c,c},b=()=>o??j(),k=async()=>{const h=await(await i("/api/admin/session",{credentials:"same-origin"})).json();s=h.csrf,h.user!==null&&t.value?.username!==h.user?(b().connect(),t.next({username:h.user,isAdmin:!0})):h.user===null&&t.next(null)};return k().catch(()=>n.next("offline")),{user:t,state:n,vortex:{observe:(c,h)=>R(b()).observe(c,h),action:c=>R(b()).action(c),state:n},http:c=>({async json(h,g,P){const m=await i(`/plugins/${c}${g.startsWith("/")?g:`/${g}`}`,{method:h,credentials:"same-origin",headers:{"Content-Type":"application/json","X-Peek-CSRF":s??""},body:P===void 0?null:JSON.stringify(P)});if(m.status===401&&(o!==null?u(o):t.next(null)),!m.ok){let $=`HTTP ${m.status}`;try{const E=await m.json();E.error&&($=E.error)}catch{$=await m.text().catch(()=>"")||$}throw new V(m.status,$)}return m.status===204?void 0:await m.json()}}),login:async(c,h)=>{await b().login(c,h),await k()},logout:async()=>{const c=o;o=null,s=null,l?.unsubscribe(),t.next(null),c!==null&&(await c.logout().catch(()=>{}),await c.close()),n.next("offline")},registerTuples:c=>{d.push(...c),o!==null&&M(o,c)},csrfToken:()=>s}}function X(i,e,t=I(i.app),n=document.body){J();const s=document.createElement("peek-shell");return s.options=i,s.session=e,s.pages=t,n.replaceChildren(s),s}const G=["proposed","downloading","preparing","prepared","refused","committed","switched","restarting","restarted","healthy","unhealthy","aborted","reverting","reverted","failed","done"];async function w(i){const e=await i.text().catch(()=>"");try{const t=JSON.parse(e);if(typeof t.message=="string")return t.message;if(typeof t.error=="string")return t.error}catch{}return e.trim()||`HTTP ${i.status}`}class K extends y{constructor(){super(...arguments),this.session=null,this.data=null,this.history=[],this.rollout=null,this.uploading=null,this.problem="",this.dragging=!1,this.events=null,this.signature=null,this.reason=""}static{this.properties={data:{state:!0},history:{state:!0},rollout:{state:!0},uploading:{state:!0},problem:{state:!0},dragging:{state:!0}}}static{this.styles=x`
    :host { display: block; max-width: 60rem; }
    .options { display: flex; flex-wrap: wrap; gap: 0.75rem 1.5rem; margin-top: 0.75rem; text-align: left; }
    .options label { display: flex; flex-direction: column; gap: 0.25rem; font-size: 0.9rem; color: #2c3a4b; }
    .options input[type="text"] { font: inherit; padding: 0.3rem 0.5rem; min-width: 18rem; }
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
  `}connectedCallback(){super.connectedCallback(),this.load().then(()=>{const e=this.data?.rollout;e&&e.state!=="active"&&this.rollout===null&&this.follow(e.generation)})}disconnectedCallback(){super.disconnectedCallback(),this.events?.close(),this.events=null}headers(){return{"X-Peek-CSRF":this.session?.csrfToken?.()??""}}async load(){try{const[e,t]=await Promise.all([fetch("/api/plugins"),fetch("/api/generations")]);if(!e.ok)throw new Error(await w(e));if(!t.ok)throw new Error(await w(t));this.data=await e.json(),this.history=(await t.json()).generations}catch(e){this.problem=`Cannot read the plugin set: ${e instanceof Error?e.message:String(e)}`}}follow(e){this.events?.close();const t={generation:e,steps:new Map,done:null};this.rollout=t;const n=new EventSource(`/api/generations/${e}/events`);this.events=n;const s=o=>{const a=JSON.parse(o.data);a.step==="done"?(t.done={state:a.state??"unknown",problems:a.problems??[]},n.close(),this.load()):t.steps.set(a.service,{step:a.step,detail:a.detail}),this.rollout={...t}};for(const o of G)n.addEventListener(o,s);n.onmessage=s}upload(e){this.problem="",this.uploading={name:e.name,percent:0};const t=new FormData;t.append("file",e,e.name),this.signature&&t.append("signature",this.signature,this.signature.name),this.reason.trim()&&t.append("reason",this.reason.trim());const n=new XMLHttpRequest;n.open("POST","/api/plugins");for(const[s,o]of Object.entries(this.headers()))n.setRequestHeader(s,o);n.upload.onprogress=s=>{s.lengthComputable&&(this.uploading={name:e.name,percent:Math.round(100*s.loaded/s.total)})},n.onload=()=>{this.uploading=null,this.answered(new Response(n.responseText,{status:n.status}))},n.onerror=()=>{this.uploading=null,this.problem=`The upload of ${e.name} failed: the server cannot be reached.`},n.send(t)}async answered(e){if(e.status!==202){this.problem=await w(e);return}const t=await e.json();this.follow(t.generation)}async removePlugin(e){if(!window.confirm(`Remove ${e} from every service? This rolls out a new generation without it.`))return;this.problem="";const t=await fetch(`/api/plugins/${encodeURIComponent(e)}`,{method:"DELETE",headers:this.headers()});await this.answered(t)}async forget(e){const t=`${e.kind} ${e.name}`;if(!window.confirm(`Forget ${t}? Rollouts stop waiting for it; it registers again when it reconnects.`))return;this.problem="";const n=new URLSearchParams({kind:e.kind}),s=await fetch(`/api/services/${encodeURIComponent(e.name)}?${n.toString()}`,{method:"DELETE",headers:this.headers()});s.ok||(this.problem=await w(s)),await this.load()}async rollback(e){this.problem="";const t=await fetch(`/api/generations/${e}/rollback`,{method:"POST",headers:this.headers()});await this.answered(t)}onDrop(e){e.preventDefault(),this.dragging=!1;const t=e.dataTransfer?.files[0];t&&this.upload(t)}onPick(e){const t=e.target,n=t.files?.[0];n&&this.upload(n),t.value=""}render(){const e=this.uploading!==null||this.rollout!==null&&this.rollout.done===null;return r`
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
        <div class="options">
          <label>Signature (optional)
            <input type="file" name="signature" accept=".sig" ?disabled=${e}
              @change=${t=>this.signature=t.target.files?.[0]??null} /></label>
          <label>Reason (kept with the generation)
            <input type="text" name="reason" maxlength="500" ?disabled=${e} .value=${this.reason}
              @input=${t=>this.reason=t.target.value} /></label>
        </div>
        ${this.uploading?r`<label>Uploading ${this.uploading.name}
              <progress max="100" value=${this.uploading.percent}>${this.uploading.percent}%</progress></label>`:p}
      </section>
      ${this.problem?r`<p class="problem" role="alert">${this.problem}</p>`:p}
      ${this.renderRollout()} ${this.renderServices(e)} ${this.renderHistory(e)}
    `}renderRollout(){const e=this.rollout;return e===null?p:r`<section aria-label="Rollout progress" data-generation=${e.generation}>
      <h2>Rollout of generation ${e.generation}</h2>
      <ul role="status" aria-live="polite">
        ${[...e.steps].map(([t,n])=>r`<li data-service=${t}>
            ${t}: <span class="step" data-step=${n.step}>${n.step}</span>
            ${n.detail?r`<small>${n.detail}</small>`:p}
          </li>`)}
      </ul>
      ${e.done?r`<p data-testid="rollout-outcome" data-state=${e.done.state}>
            Generation ${e.done.state==="active"?r`${e.generation} is active on every service.`:r`${e.generation}: ${e.done.state}.`}
            ${e.done.problems.map(t=>r`<br /><small>${t}</small>`)}
          </p>`:p}
    </section>`}renderServices(e){const t=this.data;if(t===null)return r`<p>Loading the plugin set…</p>`;const n=t.services,s=(o,a)=>o.plugins===void 0?o.generation===t.generation?a.version:"?":o.plugins.find(l=>l.name===a.name)?.version??"—";return r`
      <h2>Active plugin set <small>(generation ${t.generation??"none"})</small></h2>
      <table data-testid="plugin-set">
        <thead>
          <tr><th scope="col">Plugin</th><th scope="col">Version</th>
            ${n.map(o=>r`<th scope="col">${o.kind} <small>${o.name}</small></th>`)}
            <th scope="col"><span class="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          ${t.plugins.map(o=>r`<tr data-plugin=${o.name}>
              <th scope="row">${o.name}</th><td>${o.version}</td>
              ${n.map(a=>r`<td data-service=${a.kind}>${s(a,o)}</td>`)}
              <td><button ?disabled=${e} aria-label=${`Remove ${o.name}`}
                @click=${()=>{this.removePlugin(o.name)}}>Remove</button></td>
            </tr>`)}
        </tbody>
      </table>
      <h2>Services</h2>
      <table data-testid="services">
        <thead><tr><th scope="col">Service</th><th scope="col">State</th><th scope="col">Generation</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          ${n.map(o=>r`<tr data-service=${o.kind} data-generation=${o.generation??""} data-state=${o.state}>
              <th scope="row">${o.kind} <small>${o.name}</small></th><td>${o.state}</td><td>${o.generation??"—"}</td>
              <td>${o.state==="down"?r`<button aria-label=${`Forget ${o.kind} ${o.name}`} title="Rollouts stop waiting for it"
                    @click=${()=>{this.forget(o)}}>Forget</button>`:p}</td>
            </tr>`)}
        </tbody>
      </table>
    `}renderHistory(e){return r`
      <h2>Generations</h2>
      <table data-testid="generations">
        <thead><tr><th scope="col">#</th><th scope="col">State</th><th scope="col">Plugins</th>
          <th scope="col">Why</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          ${this.history.map(t=>r`<tr data-generation=${t.number} data-state=${t.active?"active":t.state}>
              <th scope="row">${t.number}</th>
              <td><span class="step" data-state=${t.active?"active":t.state}>${t.active?"active":t.state}</span></td>
              <td>${t.plugins.map(n=>`${n.name} ${n.version}`).join(", ")}</td>
              <td>${t.reason} <small>by ${t.created_by}</small>
                ${t.problems.map(n=>r`<br /><small>${n}</small>`)}</td>
              <td>${t.active?p:r`<button ?disabled=${e} aria-label=${`Roll back to generation ${t.number}`}
                    @click=${()=>{this.rollback(t.number)}}>Rollback</button>`}</td>
            </tr>`)}
        </tbody>
      </table>
    `}}function Y(){return customElements.get("peek-admin-plugins")||customElements.define("peek-admin-plugins",K),{route:"platform-plugins",title:"Plugins",icon:"gear",create:i=>{const e=document.createElement("peek-admin-plugins");return e.session=i,e}}}X({app:"admin",title:"Peek Admin",layout:"side",fixedUsername:"admin",platformPages:[Y()]},W());
