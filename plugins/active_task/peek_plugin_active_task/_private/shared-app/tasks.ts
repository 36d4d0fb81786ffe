/** active_task's tuples and the task list view (shared by its pages). */
import { defineTuple, type TupleOf } from "@peek/vortex";
import { html, nothing } from "lit";

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
      const done = task.completed_at !== null && task.completed_at !== undefined;
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
