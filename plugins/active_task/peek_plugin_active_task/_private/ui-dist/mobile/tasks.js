import{html as i,nothing as a,LitElement as g,css as p}from"lit";import{defineTuple as u}from"@peek/vortex";function b(e,s){let t=e;for(let n=2;;n+=1){const o=customElements.get(t);if(o===s)return t;if(o===void 0)return customElements.define(t,s),t;t=`${e}-${n}`}}const y=u("active_task.Task",{task_id:"str",username:"str",title:"str",description:"str",created_at:{optional:"datetime"},completed_at:{optional:"datetime"}}),m=u("active_task.CompleteTask",{task_id:"str"});function r(e){return e.completed_at===null||e.completed_at===void 0}function d(e){return[...e].sort((s,t)=>+!r(s)-+!r(t))}function x(e){return{subscribe(s){const t=typeof s=="function"?{next:s}:s;return e.user===null?(t.error?.(new Error("log in to see your tasks")),{unsubscribe:()=>{}}):e.vortex.observe("active_task.Task",{user:e.user.username}).subscribe({next:n=>t.next?.(d(n)),error:n=>t.error?.(n),complete:()=>t.complete?.()})}}}async function w(e,s){const[t]=await e.vortex.action(m.make({task_id:s}));if(t===void 0)throw new Error(`the server did not answer with task ${s}`);return t}function $(e,s,t,n){return e.length===0?i`<p class="empty">No tasks for you right now.</p>`:i`<ul class="tasks">
    ${e.map(o=>{const c=s.get(o.task_id),l=!r(o);return i`<li class=${l?"task done":"task"} data-task=${o.task_id}>
        <div class="text">
          <strong>${o.title}</strong>
          ${o.description?i`<span>${o.description}</span>`:a}
        </div>
        ${l?i`<span class="status" data-status="done">Done</span>`:c==="syncing"?i`<span class="status" data-status="syncing">${t?"Completing\u2026":"Completed offline, will sync"}</span>`:i`<button class="complete" @click=${()=>n(o)}>
                ${c==="failed"?"Retry":"Complete"}
              </button>`}
      </li>`})}
  </ul>`}const h="peek.active_task.completing";function _(){try{const e=JSON.parse(localStorage.getItem(h)??"[]");return new Set(Array.isArray(e)?e.filter(s=>typeof s=="string"):[])}catch{return new Set}}function C(e){try{localStorage.setItem(h,JSON.stringify([...e]))}catch{}}class f extends g{constructor(){super(...arguments),this.tasks=null,this.completions=new Map,this.connection="offline",this.problem="",this.subscriptions=[]}static{this.properties={tasks:{state:!0},completions:{state:!0},connection:{state:!0},problem:{state:!0}}}static{this.styles=p`
    :host { display: block; }
    .tasks { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.6rem; }
    .task {
      display: flex; align-items: center; gap: 0.75rem; background: #fff; border: 1px solid #dde3ea;
      border-radius: 12px; padding: 0.75rem 0.9rem; min-height: 64px;
    }
    .task.done { opacity: 0.65; }
    .task.done strong { text-decoration: line-through; }
    .text { display: grid; gap: 0.15rem; flex: 1; min-width: 0; }
    .text span { color: #5b6472; font-size: 0.9rem; }
    .complete {
      font: inherit; font-weight: 600; min-height: 48px; min-width: 6.5rem; border-radius: 10px; border: 0;
      background: #1e6b3a; color: #fff; cursor: pointer;
    }
    .status { font-size: 0.85rem; color: #1e6b3a; font-weight: 600; text-align: right; }
    .status[data-status="syncing"] { color: #8a6100; }
    .problem { color: #a12a1f; }
    .empty { color: #5b6472; }
  `}connectedCallback(){super.connectedCallback();const s=this.ctx;if(!s||!s.user){this.problem="log in to see your tasks";return}this.completions=new Map([..._()].map(t=>[t,"syncing"])),this.subscriptions.push(s.vortex.state.subscribe(t=>this.connection=t),x(s).subscribe({next:t=>this.show(t),error:t=>this.problem=`cannot watch your tasks: ${String(t)}`}))}disconnectedCallback(){super.disconnectedCallback();for(const s of this.subscriptions)s.unsubscribe();this.subscriptions=[]}show(s){this.tasks=d(s);const t=new Map(this.completions);for(const n of s)r(n)||t.delete(n.task_id);this.setCompletions(t)}setCompletions(s){this.completions=s,C([...s].filter(([,t])=>t==="syncing").map(([t])=>t))}async complete(s){if(this.ctx){this.setCompletions(new Map(this.completions).set(s.task_id,"syncing"));try{const t=await w(this.ctx,s.task_id);this.show((this.tasks??[]).map(n=>n.task_id===t.task_id?t:n)),this.problem=""}catch(t){this.setCompletions(new Map(this.completions).set(s.task_id,"failed")),this.problem=`could not complete \u201C${s.title}\u201D: ${t instanceof Error?t.message:String(t)}`}}}render(){return i`
      ${this.problem?i`<p class="problem" role="alert">${this.problem}</p>`:a}
      ${this.tasks===null?i`<p class="empty">Loading your tasks…</p>`:$(this.tasks,this.completions,this.connection==="online",s=>{this.complete(s)})}
    `}}const v=[y,m];class k extends f{constructor(){super(...arguments),this.chip=null}static{this.styles=[f.styles,p`
      header { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; margin-bottom: 0.75rem; }
      h1 { font-size: 1.4rem; margin: 0; }
    `]}connectedCallback(){super.connectedCallback();const s=this.ctx;!s||!s.user||s.uiApi("user").then(t=>{this.chip=t.userChip(s.user),this.requestUpdate()}).catch(()=>{})}render(){return i`<header><h1>My tasks</h1>${this.chip??a}</header>${super.render()}`}}function S(e,s){const t=document.createElement(b("active-task-mobile-tasks",k));return t.ctx=s,e.replaceChildren(t),()=>e.replaceChildren()}export{k as TasksPage,S as mount,v as tuples};
