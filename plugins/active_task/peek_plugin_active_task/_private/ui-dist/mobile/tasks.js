import { html as o, nothing as a, LitElement as d, css as u } from "lit";
import { defineTuple as l } from "@peek/vortex";
function h(s, e) {
  let t = s;
  for (let n = 2; ; n += 1) {
    const i = customElements.get(t);
    if (i === e) return t;
    if (i === void 0)
      return customElements.define(t, e), t;
    t = `${s}-${n}`;
  }
}
const g = l("active_task.Task", {
  task_id: "str",
  username: "str",
  title: "str",
  description: "str",
  created_at: { optional: "datetime" },
  completed_at: { optional: "datetime" }
}), p = l("active_task.CompleteTask", { task_id: "str" });
function f(s, e, t, n) {
  return s.length === 0 ? o`<p class="empty">No tasks for you right now.</p>` : o`<ul class="tasks">
    ${s.map((i) => {
    const r = e.get(i.task_id), c = i.completed_at !== null && i.completed_at !== void 0;
    return o`<li class=${c ? "task done" : "task"} data-task=${i.task_id}>
        <div class="text">
          <strong>${i.title}</strong>
          ${i.description ? o`<span>${i.description}</span>` : a}
        </div>
        ${c ? o`<span class="status" data-status="done">Done</span>` : r === "syncing" ? o`<span class="status" data-status="syncing">${t ? "Completing…" : "Completed offline, will sync"}</span>` : o`<button class="complete" @click=${() => n(i)}>
                ${r === "failed" ? "Retry" : "Complete"}
              </button>`}
      </li>`;
  })}
  </ul>`;
}
const w = [g, p], m = "peek.active_task.completing";
function b() {
  try {
    const s = JSON.parse(localStorage.getItem(m) ?? "[]");
    return new Set(Array.isArray(s) ? s.filter((e) => typeof e == "string") : []);
  } catch {
    return /* @__PURE__ */ new Set();
  }
}
function k(s) {
  try {
    localStorage.setItem(m, JSON.stringify([...s]));
  } catch {
  }
}
class y extends d {
  constructor() {
    super(...arguments), this.tasks = null, this.completions = /* @__PURE__ */ new Map(), this.connection = "offline", this.problem = "", this.subscriptions = [], this.chip = null;
  }
  static {
    this.properties = {
      tasks: { state: !0 },
      completions: { state: !0 },
      connection: { state: !0 },
      problem: { state: !0 }
    };
  }
  static {
    this.styles = u`
    :host { display: block; }
    header { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; margin-bottom: 0.75rem; }
    h1 { font-size: 1.4rem; margin: 0; }
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
  `;
  }
  connectedCallback() {
    super.connectedCallback();
    const e = this.ctx;
    if (!e || !e.user) {
      this.problem = "log in to see your tasks";
      return;
    }
    this.completions = new Map([...b()].map((t) => [t, "syncing"])), this.subscriptions.push(
      e.vortex.state.subscribe((t) => this.connection = t),
      e.vortex.observe("active_task.Task", { user: e.user.username }).subscribe({
        next: (t) => this.show(t),
        error: (t) => this.problem = `cannot watch your tasks: ${String(t)}`
      })
    ), e.uiApi("user").then((t) => {
      this.chip = t.userChip(e.user), this.requestUpdate();
    }).catch(() => {
    });
  }
  disconnectedCallback() {
    super.disconnectedCallback();
    for (const e of this.subscriptions) e.unsubscribe();
    this.subscriptions = [];
  }
  show(e) {
    this.tasks = [...e].sort((n, i) => +(n.completed_at != null) - +(i.completed_at != null));
    const t = new Map(this.completions);
    for (const n of e) n.completed_at != null && t.delete(n.task_id);
    this.setCompletions(t);
  }
  setCompletions(e) {
    this.completions = e, k([...e].filter(([, t]) => t === "syncing").map(([t]) => t));
  }
  async complete(e) {
    if (this.ctx) {
      this.setCompletions(new Map(this.completions).set(e.task_id, "syncing"));
      try {
        const [t] = await this.ctx.vortex.action(p.make({ task_id: e.task_id }));
        t !== void 0 && this.show((this.tasks ?? []).map((n) => n.task_id === t.task_id ? t : n)), this.problem = "";
      } catch (t) {
        this.setCompletions(new Map(this.completions).set(e.task_id, "failed")), this.problem = `could not complete “${e.title}”: ${t instanceof Error ? t.message : String(t)}`;
      }
    }
  }
  render() {
    return o`
      <header><h1>My tasks</h1>${this.chip ?? a}</header>
      ${this.problem ? o`<p class="problem" role="alert">${this.problem}</p>` : a}
      ${this.tasks === null ? o`<p class="empty">Loading your tasks…</p>` : f(this.tasks, this.completions, this.connection === "online", (e) => {
      this.complete(e);
    })}
    `;
  }
}
function $(s, e) {
  const t = document.createElement(h("active-task-mobile-tasks", y));
  return t.ctx = e, s.replaceChildren(t), () => s.replaceChildren();
}
export {
  y as TasksPage,
  $ as mount,
  w as tuples
};
