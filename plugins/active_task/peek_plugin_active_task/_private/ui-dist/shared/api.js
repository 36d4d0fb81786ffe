import{html as i,nothing as l,LitElement as g,css as b}from"lit";import{defineTuple as p}from"@peek/vortex";function y(e,s){let t=e;for(let o=2;;o+=1){const n=customElements.get(t);if(n===s)return t;if(n===void 0)return customElements.define(t,s),t;t=`${e}-${o}`}}const x=p("active_task.Task",{task_id:"str",username:"str",title:"str",description:"str",created_at:{optional:"datetime"},completed_at:{optional:"datetime"}}),u=p("active_task.CompleteTask",{task_id:"str"});function r(e){return e.completed_at===null||e.completed_at===void 0}function m(e){return[...e].sort((s,t)=>+!r(s)-+!r(t))}function d(e){return{subscribe(s){const t=typeof s=="function"?{next:s}:s;return e.user===null?(t.error?.(new Error("log in to see your tasks")),{unsubscribe:()=>{}}):e.vortex.observe("active_task.Task",{user:e.user.username}).subscribe({next:o=>t.next?.(m(o)),error:o=>t.error?.(o),complete:()=>t.complete?.()})}}}async function h(e,s){const[t]=await e.vortex.action(u.make({task_id:s}));if(t===void 0)throw new Error(`the server did not answer with task ${s}`);return t}function w(e,s,t,o){return e.length===0?i`<p class="empty">No tasks for you right now.</p>`:i`<ul class="tasks">
    ${e.map(n=>{const a=s.get(n.task_id),c=!r(n);return i`<li class=${c?"task done":"task"} data-task=${n.task_id}>
        <div class="text">
          <strong>${n.title}</strong>
          ${n.description?i`<span>${n.description}</span>`:l}
        </div>
        ${c?i`<span class="status" data-status="done">Done</span>`:a==="syncing"?i`<span class="status" data-status="syncing">${t?"Completing\u2026":"Completed offline, will sync"}</span>`:i`<button class="complete" @click=${()=>o(n)}>
                ${a==="failed"?"Retry":"Complete"}
              </button>`}
      </li>`})}
  </ul>`}const f="peek.active_task.completing";function _(){try{const e=JSON.parse(localStorage.getItem(f)??"[]");return new Set(Array.isArray(e)?e.filter(s=>typeof s=="string"):[])}catch{return new Set}}function $(e){try{localStorage.setItem(f,JSON.stringify([...e]))}catch{}}class v extends g{constructor(){super(...arguments),this.tasks=null,this.completions=new Map,this.connection="offline",this.problem="",this.subscriptions=[]}static{this.properties={tasks:{state:!0},completions:{state:!0},connection:{state:!0},problem:{state:!0}}}static{this.styles=b`
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
  `}connectedCallback(){super.connectedCallback();const s=this.ctx;if(!s||!s.user){this.problem="log in to see your tasks";return}this.completions=new Map([..._()].map(t=>[t,"syncing"])),this.subscriptions.push(s.vortex.state.subscribe(t=>this.connection=t),d(s).subscribe({next:t=>this.show(t),error:t=>this.problem=`cannot watch your tasks: ${String(t)}`}))}disconnectedCallback(){super.disconnectedCallback();for(const s of this.subscriptions)s.unsubscribe();this.subscriptions=[]}show(s){this.tasks=m(s);const t=new Map(this.completions);for(const o of s)r(o)||t.delete(o.task_id);this.setCompletions(t)}setCompletions(s){this.completions=s,$([...s].filter(([,t])=>t==="syncing").map(([t])=>t))}async complete(s){if(this.ctx){this.setCompletions(new Map(this.completions).set(s.task_id,"syncing"));try{const t=await h(this.ctx,s.task_id);this.show((this.tasks??[]).map(o=>o.task_id===t.task_id?t:o)),this.problem=""}catch(t){this.setCompletions(new Map(this.completions).set(s.task_id,"failed")),this.problem=`could not complete \u201C${s.title}\u201D: ${t instanceof Error?t.message:String(t)}`}}}render(){return i`
      ${this.problem?i`<p class="problem" role="alert">${this.problem}</p>`:l}
      ${this.tasks===null?i`<p class="empty">Loading your tasks…</p>`:w(this.tasks,this.completions,this.connection==="online",s=>{this.complete(s)})}
    `}}const C=[x,u];function k(e){const s=document.createElement(y("active-task-list",v));return s.ctx=e,s}const S={tasks:d,isOpen:r,complete:h,taskList:k};export{S as default,k as taskList,C as tuples};
