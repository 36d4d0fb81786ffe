import{defineTuple as a}from"@peek/vortex";import{LitElement as m,css as d,nothing as u,html as c}from"lit";function p(s,t){let e=s;for(let o=2;;o+=1){const n=customElements.get(e);if(n===t)return e;if(n===void 0)return customElements.define(e,t),e;e=`${s}-${o}`}}const h=a("noop.Counter",{name:"str",value:"int",updated:"datetime"}),l=a("noop.Bump",{name:"str",by:"int"}),r="clicks";class b extends m{constructor(){super(...arguments),this.value=null,this.updatedAt=null,this.problem="",this.sending=!1,this.subscription=null}static{this.properties={value:{state:!0},updatedAt:{state:!0},problem:{state:!0},sending:{state:!0}}}static{this.styles=d`
    :host { display: block; }
    .card {
      background: #fff; border: 1px solid #dde3ea; border-radius: 14px; padding: 1.25rem 1.5rem; max-width: 30rem;
    }
    :host([compact]) .card { max-width: none; }
    h2 { margin: 0 0 0.25rem; font-size: 1.2rem; }
    .value { font-size: 3.5rem; font-weight: 700; line-height: 1.1; margin: 0.5rem 0; color: #16324f; }
    .meta { color: #5b6472; font-size: 0.9rem; margin: 0 0 1rem; }
    button {
      font: inherit; font-weight: 600; background: #16324f; color: #fff; border: 0; border-radius: 10px;
      padding: 0.7rem 1.4rem; min-height: 48px; cursor: pointer;
    }
    :host([compact]) button { width: 100%; min-height: 56px; }
    button[disabled] { opacity: 0.6; }
    .problem { color: #a12a1f; }
  `}connectedCallback(){super.connectedCallback(),this.subscription=this.ctx?.vortex.observe("noop.Counter",{name:r}).subscribe({next:t=>{const e=t[0];e!==void 0&&(this.value=Number(e.value),this.updatedAt=e.updated.toDate().toLocaleTimeString(),this.problem="")},error:t=>this.problem=`cannot watch the counter: ${String(t)}`})??null}disconnectedCallback(){super.disconnectedCallback(),this.subscription?.unsubscribe(),this.subscription=null}async bump(){if(this.ctx){this.sending=!0;try{await this.ctx.vortex.action(l.make({name:r,by:1})),this.problem=""}catch(t){this.problem=`the bump failed: ${t instanceof Error?t.message:String(t)}`}finally{this.sending=!1}}}render(){return c`<section class="card">
      <h2>Counter “${r}”</h2>
      <p class="meta">Live from the server's noop plugin, shared by everyone watching.</p>
      <div class="value" data-testid="noop-value">${this.value??"\u2026"}</div>
      <p class="meta">${this.updatedAt?`updated ${this.updatedAt}`:"waiting for the first value"}</p>
      <button data-testid="noop-bump" ?disabled=${this.sending||!this.ctx} @click=${()=>{this.bump()}}>
        Bump +1
      </button>
      ${this.problem?c`<p class="problem" role="alert">${this.problem}</p>`:u}
    </section>`}}function f(s,t={}){const e=document.createElement(p("noop-counter-panel",b));return e.ctx=s,e.toggleAttribute("compact",t.compact??!1),e}const g=[h,l];function x(s){return(t,e)=>{const o=document.createElement("h1");o.textContent=s.heading,o.style.cssText="font-size:1.5rem;margin:0 0 1rem";const n=f(e,{compact:s.compact});return t.replaceChildren(o,n),v(t,e,n),()=>t.replaceChildren()}}async function v(s,t,e){let o;try{o=await t.uiApi("active_task")}catch{return}if(!e.isConnected)return;const n=document.createElement("section");n.dataset.testid="noop-tasks",n.style.cssText="margin-top:1.5rem;max-width:30rem";const i=document.createElement("h2");i.textContent="Your tasks",i.style.cssText="font-size:1.2rem;margin:0 0 0.5rem",n.append(i,o.taskList(t)),s.append(n)}const y=x({heading:"No-op",compact:!1});export{y as mount,g as tuples};
