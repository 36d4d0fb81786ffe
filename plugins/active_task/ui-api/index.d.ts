/** `@peek/active_task`: the tuples of active_task, for other plugins' pages that show tasks. */
export interface ActiveTask {
  readonly _t: "active_task.Task";
  readonly task_id: string;
  readonly username: string;
  readonly title: string;
  readonly description: string;
  readonly completed_at: { toDate(): Date } | null;
}
