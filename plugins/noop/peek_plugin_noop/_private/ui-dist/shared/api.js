import{defineTuple as r}from"@peek/vortex";import{LitElement as l,css as u,nothing as d,html as a}from"lit";function p(s,e){let t=s;for(let o=2;;o+=1){const n=customElements.get(t);if(n===e)return t;if(n===void 0)return customElements.define(t,e),t;t=`${s}-${o}`}}const m=r("noop.Counter",{name:"str",value:"int",updated:"datetime"}),c=r("noop.Bump",{name:"str",by:"int"}),i="clicks";class h extends l{constructor(){super(...arguments),this.value=null,this.updatedAt=null,this.problem="",this.sending=!1,this.subscription=null}static{this.properties={value:{state:!0},updatedAt:{state:!0},problem:{state:!0},sending:{state:!0}}}static{this.styles=u`
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
  `}connectedCallback(){super.connectedCallback(),this.subscription=this.ctx?.vortex.observe("noop.Counter",{name:i}).subscribe({next:e=>{const t=e[0];t!==void 0&&(this.value=Number(t.value),this.updatedAt=t.updated.toDate().toLocaleTimeString(),this.problem="")},error:e=>this.problem=`cannot watch the counter: ${String(e)}`})??null}disconnectedCallback(){super.disconnectedCallback(),this.subscription?.unsubscribe(),this.subscription=null}async bump(){if(this.ctx){this.sending=!0;try{await this.ctx.vortex.action(c.make({name:i,by:1})),this.problem=""}catch(e){this.problem=`the bump failed: ${e instanceof Error?e.message:String(e)}`}finally{this.sending=!1}}}render(){return a`<section class="card">
      <h2>Counter “${i}”</h2>
      <p class="meta">Live from the server's noop plugin, shared by everyone watching.</p>
      <div class="value" data-testid="noop-value">${this.value??"\u2026"}</div>
      <p class="meta">${this.updatedAt?`updated ${this.updatedAt}`:"waiting for the first value"}</p>
      <button data-testid="noop-bump" ?disabled=${this.sending||!this.ctx} @click=${()=>{this.bump()}}>
        Bump +1
      </button>
      ${this.problem?a`<p class="problem" role="alert">${this.problem}</p>`:d}
    </section>`}}function b(s,e={}){const t=document.createElement(p("noop-counter-panel",h));return t.ctx=s,t.toggleAttribute("compact",e.compact??!1),t}const f=[m,c],g={counterName:i,counterPanel:b};export{g as default,f as tuples};
