import{w as h,i as b,b as y,A as p,d}from"./lit-element-C9UjNeOd.js";import{o as w,c as v,V as $}from"./vortex-CIidWAfz.js";const m={home:h`<path d="M3 11 12 4l9 7v9h-6v-6H9v6H3z"/>`,bolt:h`<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>`,people:h`<circle cx="9" cy="8" r="3.5"/><circle cx="17" cy="9" r="2.5"/><path d="M2 20c0-4 3-6 7-6s7 2 7 6M15 14c4 0 7 2 7 6"/>`,checklist:h`<path d="M4 6l2 2 3-3M4 13l2 2 3-3M4 20l2 2 3-3M12 7h9M12 14h9M12 21h9"/>`,gear:h`<circle cx="12" cy="12" r="3"/><path d="M12 2v4M12 18v4M2 12h4M18 12h4M5 5l3 3M16 16l3 3M5 19l3-3M16 8l3-3"/>`,page:h`<path d="M6 2h9l5 5v15H6zM14 2v6h6"/>`};function g(o){return h`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${m[o]??m.page}</svg>`}class x extends Error{constructor(e,t){super(t),this.url=e,this.name="ModuleLoadError"}}function k(o,e){return new Promise((t,r)=>{const n=document.createElement("link");n.rel="modulepreload",n.integrity=e,n.href=o,n.onload=()=>t(),n.onerror=()=>r(new x(o,"the module could not be fetched, or its content does not match its integrity hash")),document.head.append(n)})}const E=o=>import(o);class P{constructor(e=k,t=E){this.preload=e,this.importer=t,this.loaded=new Map}load(e,t,r=null){if(e===null||t===null)return Promise.reject(new x(e,r??"the platform cannot serve this module"));let n=this.loaded.get(e);return n===void 0&&(n=this.preload(e,t).then(()=>this.importer(e)),this.loaded.set(e,n),n.catch(()=>this.loaded.delete(e))),n}}class M extends b{constructor(){super(...arguments),this.entry=null,this.loader=null,this.context=null,this.subpath="",this.registerTuples=()=>{},this.phase={kind:"loading"},this.unmount=null,this.mountedKey=null,this.generation=0}static{this.properties={entry:{attribute:!1},loader:{attribute:!1},context:{attribute:!1},subpath:{type:String},phase:{state:!0}}}static{this.styles=y`
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
      ${this.phase.kind==="loading"?d`<p class="loading">Loading ${e?.title??"page"}…</p>`:p}
      ${this.phase.kind==="failed"&&e?d`<section class="error-card" role="alert" data-plugin=${e.plugin}>
            <h2>${e.title} could not be shown</h2>
            <p>The page of plugin <strong>${e.plugin_title}</strong> (${e.plugin}) failed to load.</p>
            <p><code>${this.phase.message}</code></p>
            <p>Other pages keep working.</p>
            <button @click=${()=>this.remount(!0)}>Try again</button>
          </section>`:p}
      <div class="outlet" ?hidden=${this.phase.kind!=="mounted"}><slot></slot></div>
    `}updated(){const e=this.entry,t=e?`${e.module??e.error}#${this.subpath}`:null;t!==this.mountedKey&&(this.mountedKey=t,this.remount(!1))}disconnectedCallback(){super.disconnectedCallback(),this.teardown()}teardown(){this.generation+=1;const e=this.unmount;this.unmount=null;try{e?.()}catch{}this.replaceChildren()}async remount(e){const{entry:t,loader:r,context:n}=this;this.teardown();const s=this.generation;if(!(!t||!r||!n)){this.phase={kind:"loading"};try{const l=await r.load(t.module,t.integrity,t.error);if(s!==this.generation)return;Array.isArray(l.tuples)&&this.registerTuples(l.tuples);const i=l.mount;if(typeof i!="function")throw new Error("the module exports no mount(host, ctx) function");const a=document.createElement("div");a.className="plugin-page",a.dataset.plugin=t.plugin,this.append(a);const c=await i(a,n(t));if(s!==this.generation){typeof c=="function"&&c();return}this.unmount=typeof c=="function"?c:null,this.phase={kind:"mounted"}}catch(l){if(s!==this.generation)return;this.replaceChildren(),this.phase={kind:"failed",message:l instanceof Error?l.message:String(l)}}}}}const L=o=>({app:o,version:0,pages:[],apis:{}});function f(o,e){if(typeof e!="object"||e===null)throw new Error("the pages index is not an object");const t=e;if(!Array.isArray(t.pages))throw new Error("the pages index has no list of pages");const r=t.pages.filter(s=>typeof s=="object"&&s!==null&&typeof s.route=="string"&&typeof s.title=="string"&&typeof s.plugin=="string"),n=typeof t.apis=="object"&&t.apis!==null?t.apis:{};return{app:o,version:typeof t.version=="number"?t.version:0,pages:r,apis:n}}function S(o,e=""){return{watch(t,r){let n=!1,s=-1;const l=a=>{n||a.version<s||(s=a.version,t(a))};fetch(`${e}/ui/pages/${o}`,{credentials:"same-origin"}).then(async a=>{if(!a.ok)throw new Error(`the pages index answered HTTP ${a.status}`);l(f(o,await a.json()))}).catch(a=>{n||r(a)});const i=new EventSource(`${e}/ui/pages/${o}/events`);return i.addEventListener("index",a=>{try{l(f(o,JSON.parse(a.data)))}catch(c){r(c)}}),()=>{n=!0,i.close()}}}}function T(o){const e=o.replace(/^#/,"").replace(/^\/+/,""),t=e.indexOf("/");return t<0?{route:decodeURIComponent(e),subpath:""}:{route:decodeURIComponent(e.slice(0,t)),subpath:e.slice(t+1)}}function u(o,e=""){const t=`#/${encodeURIComponent(o)}`;return e?`${t}/${e}`:t}const C=y`
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
`,A={online:"Online",reconnecting:"Reconnecting…",offline:"Offline"};class z extends b{constructor(){super(...arguments),this.loader=new P,this.user=null,this.connection="offline",this.index=null,this.route="",this.subpath="",this.loginProblem="",this.browserOnline=typeof navigator>"u"?!0:navigator.onLine,this.indexProblem="",this.subscriptions=[],this.stopPages=null,this.platformElements=new Map,this.onHash=()=>this.readLocation(),this.onNetwork=()=>{this.browserOnline=navigator.onLine},this.contextFor=e=>{const t=()=>this.index??L(this.options.app);return{app:this.options.app,plugin:e.plugin,api:e.api,route:e.route,subpath:this.subpath,vortex:this.session.vortex,user:this.user,navigate:r=>this.navigate(r),http:this.session.http(e.api),uiApi:async r=>{const n=t().apis[r.replace(/^peek_plugin_/,"")];if(n===void 0)throw new Error(`plugin ${r} publishes no UI API here`);const s=await this.loader.load(n.module,n.integrity,n.error);return Array.isArray(s.tuples)&&this.session.registerTuples(s.tuples),s.default??s}}}}static{this.properties={user:{state:!0},connection:{state:!0},index:{state:!0},route:{state:!0},subpath:{state:!0},loginProblem:{state:!0},browserOnline:{state:!0},indexProblem:{state:!0}}}static{this.styles=C}connectedCallback(){super.connectedCallback(),this.readLocation(),window.addEventListener("hashchange",this.onHash),window.addEventListener("online",this.onNetwork),window.addEventListener("offline",this.onNetwork),this.subscriptions.push(this.session.user.subscribe(e=>this.setUser(e)),this.session.state.subscribe(e=>this.connection=e))}disconnectedCallback(){super.disconnectedCallback(),window.removeEventListener("hashchange",this.onHash),window.removeEventListener("online",this.onNetwork),window.removeEventListener("offline",this.onNetwork);for(const e of this.subscriptions)e.unsubscribe();this.subscriptions=[],this.stopPages?.(),this.stopPages=null}readLocation(){const{route:e,subpath:t}=T(window.location.hash);this.route=e,this.subpath=t}setUser(e){this.user=e,e!==null&&this.stopPages===null?this.stopPages=this.pages.watch(t=>{this.index=t,this.indexProblem=""},t=>{this.indexProblem=t instanceof Error?t.message:String(t)}):e===null&&this.stopPages!==null&&(this.stopPages(),this.stopPages=null,this.index=null,this.platformElements.clear())}navigate(e,t=""){window.location.hash=e?u(e,t):"#/"}async submitLogin(e){e.preventDefault();const t=e.target,r=new FormData(t),n=this.options.fixedUsername??String(r.get("username")??"").trim(),s=String(r.get("password")??"");this.loginProblem="";try{await this.session.login(n,s),t.reset()}catch(l){const{code:i,status:a,retryAfter:c}=l;i==="refused"||a===401?this.loginProblem="Wrong username or password.":i==="throttled"||a===429?this.loginProblem=typeof c=="number"?`Too many failed logins. Try again in ${c} s.`:"Too many failed logins. Try again later.":this.loginProblem=`Cannot log in right now: ${l instanceof Error?l.message:String(l)}`}}render(){return d`<div class=${`shell-${this.options.layout}`}>
      ${this.user===null?this.renderLogin():this.renderApp(this.user)}
    </div>`}get connectionState(){return this.connection!=="online"&&!this.browserOnline?"offline":this.connection}renderConnection(){const e=this.connectionState;return d`<span class="conn" data-state=${e} role="status" aria-live="polite"
      ><span>${A[e]}</span></span
    >`}renderLogin(){const e=this.options.fixedUsername;return d`
      <header class="topbar"><span class="brand">${this.options.title}</span>${this.renderConnection()}</header>
      <div class="login">
        <form @submit=${t=>{this.submitLogin(t)}}>
          <h1>Log in</h1>
          ${e?d`<p>Administrator password for <strong>${e}</strong>.</p>`:d`<label>Username <input name="username" autocomplete="username" required /></label>`}
          <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
          ${this.loginProblem?d`<p class="problem" role="alert">${this.loginProblem}</p>`:p}
          <button type="submit">Log in</button>
        </form>
      </div>
    `}platformElement(e){let t=this.platformElements.get(e.route);return t===void 0&&(t=e.create(this.session),this.platformElements.set(e.route,t)),t}renderApp(e){const t=this.options.platformPages??[],r=this.route?t.find(i=>i.route===this.route):void 0,n=(this.index?.pages??[]).filter(i=>!t.some(a=>a.route===i.route)),s=this.route&&!r?n.find(i=>i.route===this.route):void 0,l=(i,a,c)=>d`<a href=${i?u(i):"#/"} data-route=${i}
        aria-current=${this.route===i?"page":p}>${g(c)}<span>${a}</span></a>`;return d`
      <header class="topbar">
        <span class="brand">${this.options.title}</span>
        ${this.renderConnection()}
        <span class="user" title=${e.username}>${e.displayName??e.username}</span>
        <button class="logout" @click=${()=>{this.session.logout()}}>Log out</button>
      </header>
      <div class=${`layout-${this.options.layout}`}>
        <nav class="nav" aria-label="Pages">
          ${l("","Home","home")} ${t.map(i=>l(i.route,i.title,i.icon))}
          ${n.map(i=>l(i.route,i.title,i.icon))}
        </nav>
        <main class="content">
          ${this.indexProblem?d`<p class="banner">Pages may be out of date: ${this.indexProblem}</p>`:p}
          ${this.route===""?this.renderHome(e,n):p}
          ${r?this.platformElement(r):p}
          ${this.route!==""&&s?d`<peek-page-host
                .entry=${s}
                .loader=${this.loader}
                .context=${this.contextFor}
                .subpath=${this.subpath}
                .registerTuples=${i=>this.session.registerTuples(i)}
              ></peek-page-host>`:p}
          ${this.route!==""&&!r&&!s&&this.index!==null?d`<h1>Page not found</h1><p class="empty">No plugin offers “${this.route}” here (any more).</p>
                <p><a href="#/">Back to the home page</a></p>`:p}
        </main>
      </div>
    `}renderHome(e,t){return d`
      <h1>Welcome, ${e.displayName??e.username}</h1>
      ${t.length===0?d`<p class="empty">${this.index===null?"Loading pages…":"No plugin offers a page here yet."}</p>`:d`<div class="tiles">
            ${t.map(r=>d`<a class="tile" href=${u(r.route)}
                >${g(r.icon)}<span>${r.title}<small>${r.plugin_title}</small></span></a
              >`)}
          </div>`}
    `}}function H(){customElements.get("peek-page-host")||customElements.define("peek-page-host",M),customElements.get("peek-shell")||customElements.define("peek-shell",z)}function N(o,e){return w(function(t,r){var n=0;t.subscribe(v(r,function(s){r.next(o.call(e,s,n++))}))})}function j(o,e){for(const t of e){if(typeof t!="object"||t===null)continue;const r=t;if(!(typeof r.name!="string"||typeof r.fields!="object"))try{o.registerTuples(t)}catch(n){if(!(n instanceof TypeError))throw n}}}function O(o){return{observe:(e,t)=>o.observe(e,t),action:async e=>await o.action(e),state:o.state$}}function U(o=new $({tuples:[],relogin:!1})){return o.connect(),{user:o.user$.pipe(N(e=>e===null?null:{username:e})),state:o.state$,vortex:O(o),http:()=>null,login:async(e,t)=>{await o.login(e,t)},logout:()=>o.logout(),registerTuples:e=>j(o,e)}}function I(o,e,t=S(o.app),r=document.body){H();const n=document.createElement("peek-shell");return n.options=o,n.session=e,n.pages=t,r.replaceChildren(n),n}function _(o){"serviceWorker"in navigator&&navigator.serviceWorker.register(`${o}sw.js`,{scope:o,type:"module"}).catch(e=>{document.documentElement.dataset.swError=String(e)})}I({app:"mobile",title:"Peek Mobile",layout:"bottom"},U());_("/mobile/");
