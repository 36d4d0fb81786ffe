/** active_task's tuples, the tasks service and the task list view (shared by its pages and its UI API). */
import type { ObserverLike, Subscribable } from "@peek/plugin-sdk";
import { defineTuple, type TupleOf } from "@peek/vortex";
import { html, nothing } from "lit";

import type { TasksContext } from "../../../ui-api/index.js";

export const Task = defineTuple("active_task.Task", {
  task_id: "str",
  username: "str",
  title: "str",
  description: "str",
  created_at: { optional: "datetime" },
  completed_at: { optional: "datetime" },
});
export const CompleteTask = defineTuple("active_task.CompleteTask", { task_id: "str" });
export type TaskValue = TupleOf<typeof Task>;

/** Whether a task is still to do. */
export function isOpen(task: TaskValue): boolean {
  return task.completed_at === null || task.completed_at === undefined;
}

/** The tasks with the open ones first (otherwise in their order). */
export function openFirst(tasks: readonly TaskValue[]): TaskValue[] {
  return [...tasks].sort((a, b) => Number(!isOpen(a)) - Number(!isOpen(b)));
}

/** The logged-in user's tasks, live, open ones first (the UI API's `tasks`). */
export function watchTasks(ctx: TasksContext): Subscribable<readonly TaskValue[]> {
  return {
    subscribe(observer) {
      const to: Partial<ObserverLike<readonly TaskValue[]>> = typeof observer === "function" ? { next: observer } : observer;
      if (ctx.user === null) {
        to.error?.(new Error("log in to see your tasks"));
        return { unsubscribe: () => undefined };
      }
      return ctx.vortex.observe<TaskValue>("active_task.Task", { user: ctx.user.username }).subscribe({
        next: (tasks) => to.next?.(openFirst(tasks)),
        error: (error: unknown) => to.error?.(error),
        complete: () => to.complete?.(),
      });
    },
  };
}

/** Send CompleteTask; resolves with the task as the server has it now (the UI API's `complete`). */
export async function completeTask(ctx: TasksContext, taskId: string): Promise<TaskValue> {
  const [updated] = await ctx.vortex.action<TaskValue>(CompleteTask.make({ task_id: taskId }));
  if (updated === undefined) throw new Error(`the server did not answer with task ${taskId}`);
  return updated;
}

/** What the page knows about a completion it sent. */
export type Completion = "syncing" | "failed";

export function taskList(
  tasks: readonly TaskValue[],
  completions: ReadonlyMap<string, Completion>,
  online: boolean,
  complete: (task: TaskValue) => void,
) {
  if (tasks.length === 0) return html`<p class="empty">No tasks for you right now.</p>`;
  return html`<ul class="tasks">
    ${tasks.map((task) => {
      const state = completions.get(task.task_id);
      const done = !isOpen(task);
      return html`<li class=${done ? "task done" : "task"} data-task=${task.task_id}>
        <div class="text">
          <strong>${task.title}</strong>
          ${task.description ? html`<span>${task.description}</span>` : nothing}
        </div>
        ${done
          ? html`<span class="status" data-status="done">Done</span>`
          : state === "syncing"
            ? html`<span class="status" data-status="syncing">${online ? "Completing…" : "Completed offline, will sync"}</span>`
            : html`<button class="complete" @click=${() => complete(task)}>
                ${state === "failed" ? "Retry" : "Complete"}
              </button>`}
      </li>`;
    })}
  </ul>`;
}
