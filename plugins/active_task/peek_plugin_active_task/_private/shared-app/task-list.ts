/**
 * active_task's task list element: the logged-in user's tasks, live, and a button to
 * complete one. Offline, the list comes from the vortex client's cache and a completion
 * is queued by it and sent once back online; the element remembers which completions
 * it queued (localStorage) so that a restart while offline still shows them as waiting.
 * Its mobile page and its UI API's `taskList` both show this element.
 */
import type { ConnectionState, Unsubscribable } from "@peek/plugin-sdk";
import { LitElement, css, html, nothing, type CSSResultGroup } from "lit";

import type { TasksContext } from "../../../ui-api/index.js";
import { completeTask, isOpen, openFirst, taskList, watchTasks, type Completion, type TaskValue } from "./tasks.js";

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

export class ActiveTaskList extends LitElement {
  static override properties = {
    tasks: { state: true },
    completions: { state: true },
    connection: { state: true },
    problem: { state: true },
  };

  static override styles: CSSResultGroup = css`
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
  `;

  ctx?: TasksContext;
  protected tasks: readonly TaskValue[] | null = null;
  protected completions = new Map<string, Completion>();
  protected connection: ConnectionState = "offline";
  protected problem = "";
  private subscriptions: Unsubscribable[] = [];

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
      watchTasks(ctx).subscribe({
        next: (tasks) => this.show(tasks),
        error: (error: unknown) => (this.problem = `cannot watch your tasks: ${String(error)}`),
      }),
    );
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions = [];
  }

  private show(tasks: readonly TaskValue[]): void {
    this.tasks = openFirst(tasks);
    // A completion the server reports done needs no "waiting" label any more.
    const completions = new Map(this.completions);
    for (const task of tasks) if (!isOpen(task)) completions.delete(task.task_id);
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
      const updated = await completeTask(this.ctx, task.task_id);
      this.show((this.tasks ?? []).map((t) => (t.task_id === updated.task_id ? updated : t)));
      this.problem = "";
    } catch (error) {
      this.setCompletions(new Map(this.completions).set(task.task_id, "failed"));
      this.problem = `could not complete “${task.title}”: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  protected override render() {
    return html`
      ${this.problem ? html`<p class="problem" role="alert">${this.problem}</p>` : nothing}
      ${this.tasks === null
        ? html`<p class="empty">Loading your tasks…</p>`
        : taskList(this.tasks, this.completions, this.connection === "online", (t) => void this.complete(t))}
    `;
  }
}
