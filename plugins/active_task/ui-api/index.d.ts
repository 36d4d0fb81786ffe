/**
 * `@peek/active_task`: the UI API active_task publishes to other plugins' pages, and its tuples.
 *
 * ```ts
 * import type { ActiveTaskUiApi } from "@peek/active_task";
 * const tasks = await ctx.uiApi<ActiveTaskUiApi>("active_task");
 * host.append(tasks.taskList(ctx));                       // the user's tasks, live, completable
 * tasks.tasks(ctx).subscribe((list) => badge.textContent = String(list.filter(tasks.isOpen).length));
 * ```
 *
 * The shell loads the module (`[ui] api` in active_task's plugin.toml) on first use and
 * registers its tuples. `ctx.uiApi` rejects where active_task is not installed: declare it
 * in your plugin's `[requires]`, or let your page work without it.
 */
import type { PageUser, PageVortex, Subscribable } from "@peek/plugin-sdk";

export interface ActiveTask {
  readonly _t: "active_task.Task";
  readonly task_id: string;
  readonly username: string;
  readonly title: string;
  readonly description: string;
  readonly created_at?: { toDate(): Date } | null;
  readonly completed_at?: { toDate(): Date } | null;
}

/** What the API needs of a page: its vortex and logged-in user (a `PageContext` fits). */
export interface TasksContext {
  readonly vortex: PageVortex;
  readonly user: PageUser | null;
}

export interface ActiveTaskUiApi {
  /**
   * The logged-in user's tasks, live (from the offline cache while offline), open ones
   * first. Errors at once when nobody is logged in.
   */
  tasks(ctx: TasksContext): Subscribable<readonly ActiveTask[]>;
  /** Whether a task is still to do. */
  isOpen(task: ActiveTask): boolean;
  /**
   * Complete one of the user's tasks; resolves with the task as the server has it now.
   * Offline, the vortex client queues it and the promise settles once it is sent.
   */
  complete(ctx: TasksContext, taskId: string): Promise<ActiveTask>;
  /**
   * An element listing the user's tasks, live, each with a Complete button (a completion
   * queued offline survives a reload). Remove it from the page to stop watching.
   */
  taskList(ctx: TasksContext): HTMLElement;
}
