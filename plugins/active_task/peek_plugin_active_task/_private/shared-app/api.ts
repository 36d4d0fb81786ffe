/** active_task's UI API (see ui-api/index.d.ts, published as `[ui] api`). */
import { defineElement } from "@peek/plugin-sdk";

import type { ActiveTaskUiApi, TasksContext } from "../../../ui-api/index.js";
import { ActiveTaskList } from "./task-list.js";
import { CompleteTask, Task, completeTask, isOpen, watchTasks } from "./tasks.js";

/** The shell registers these with the vortex client when it loads this module. */
export const tuples = [Task, CompleteTask];

export function taskList(ctx: TasksContext): HTMLElement {
  const list = document.createElement(defineElement("active-task-list", ActiveTaskList)) as ActiveTaskList;
  list.ctx = ctx;
  return list;
}

const api: ActiveTaskUiApi = { tasks: watchTasks, isOpen, complete: completeTask, taskList };
export default api;
