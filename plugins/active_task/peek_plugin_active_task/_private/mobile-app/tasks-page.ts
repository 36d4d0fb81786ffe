/**
 * active_task in the mobile app: the logged-in user's tasks, live, and a
 * button to complete one. Offline, the list comes from the vortex client's
 * cache and a completion is queued by it and sent once back online; the page
 * remembers which completions it queued (localStorage) so that a restart
 * while offline still shows them as waiting.
 */
import { defineElement, type ConnectionState, type PageContext, type Unsubscribable } from "@peek/plugin-sdk";
import type { UserUiApi } from "@peek/user";
import { LitElement, css, html, nothing } from "lit";

import { CompleteTask, Task, taskList, type Completion, type TaskValue } from "../shared-app/tasks.js";

export const tuples = [Task, CompleteTask];
const PENDING_KEY = "peek.active_task.completing";

function loadPending(): Set<string> {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(PENDING_KEY) ?? "[]");
    return new Set(Array.isArray(raw) ? raw.filter((v): v is string => typeof v === "string") : []);
  } catch {
    return new Set();
  }
}

function savePending(ids: Iterable<string>): void {
  try {
    localStorage.setItem(PENDING_KEY, JSON.stringify([...ids]));
  } catch {
    // storage may be full or disabled: only the "waiting" label after a restart is lost
  }
}

export class TasksPage extends LitElement {
  static override properties = {
    tasks: { state: true },
    completions: { state: true },
    connection: { state: true },
    problem: { state: true },
  };

  static override styles = css`
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

  ctx?: PageContext;
  protected tasks: readonly TaskValue[] | null = null;
  protected completions = new Map<string, Completion>();
  protected connection: ConnectionState = "offline";
  protected problem = "";
  private subscriptions: Unsubscribable[] = [];
  private chip: HTMLElement | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    const ctx = this.ctx;
    if (!ctx || !ctx.user) {
      this.problem = "log in to see your tasks";
      return;
    }
    this.completions = new Map([...loadPending()].map((id) => [id, "syncing" as const]));
    this.subscriptions.push(
      ctx.vortex.state.subscribe((state) => (this.connection = state)),
      ctx.vortex.observe<TaskValue>("active_task.Task", { user: ctx.user.username }).subscribe({
        next: (tasks) => this.show(tasks),
        error: (error: unknown) => (this.problem = `cannot watch your tasks: ${String(error)}`),
      }),
    );
    // The user plugin's UI API names the user; the page works without it.
    ctx
      .uiApi<UserUiApi>("user")
      .then((users) => {
        this.chip = users.userChip(ctx.user);
        this.requestUpdate();
      })
      .catch(() => undefined);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions = [];
  }

  private show(tasks: readonly TaskValue[]): void {
    this.tasks = [...tasks].sort((a, b) => Number(a.completed_at != null) - Number(b.completed_at != null));
    // A completion the server reports done needs no "waiting" label any more.
    const completions = new Map(this.completions);
    for (const task of tasks) if (task.completed_at != null) completions.delete(task.task_id);
    this.setCompletions(completions);
  }

  private setCompletions(completions: Map<string, Completion>): void {
    this.completions = completions;
    savePending([...completions].filter(([, s]) => s === "syncing").map(([id]) => id));
  }

  async complete(task: TaskValue): Promise<void> {
    if (!this.ctx) return;
    this.setCompletions(new Map(this.completions).set(task.task_id, "syncing"));
    try {
      // The reply is the task as the server has it now (completed).
      const [updated] = await this.ctx.vortex.action<TaskValue>(CompleteTask.make({ task_id: task.task_id }));
      if (updated !== undefined) this.show((this.tasks ?? []).map((t) => (t.task_id === updated.task_id ? updated : t)));
      this.problem = "";
    } catch (error) {
      this.setCompletions(new Map(this.completions).set(task.task_id, "failed"));
      this.problem = `could not complete “${task.title}”: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  protected override render() {
    return html`
      <header><h1>My tasks</h1>${this.chip ?? nothing}</header>
      ${this.problem ? html`<p class="problem" role="alert">${this.problem}</p>` : nothing}
      ${this.tasks === null
        ? html`<p class="empty">Loading your tasks…</p>`
        : taskList(this.tasks, this.completions, this.connection === "online", (t) => void this.complete(t))}
    `;
  }
}

export function mount(host: HTMLElement, ctx: PageContext): () => void {
  const page = document.createElement(defineElement("active-task-mobile-tasks", TasksPage)) as TasksPage;
  page.ctx = ctx;
  host.replaceChildren(page);
  return () => host.replaceChildren();
}
