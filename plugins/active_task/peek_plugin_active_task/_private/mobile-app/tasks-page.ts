/**
 * active_task in the mobile app: the logged-in user's tasks (the shared task list
 * element: live, completable offline) under a header naming the user.
 */
import { defineElement, type PageContext } from "@peek/plugin-sdk";
import type { UserUiApi } from "@peek/user";
import { css, html, nothing } from "lit";

import { ActiveTaskList } from "../shared-app/task-list.js";
import { CompleteTask, Task } from "../shared-app/tasks.js";

export const tuples = [Task, CompleteTask];

export class TasksPage extends ActiveTaskList {
  static override styles = [
    ActiveTaskList.styles,
    css`
      header { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; margin-bottom: 0.75rem; }
      h1 { font-size: 1.4rem; margin: 0; }
    `,
  ];

  declare ctx?: PageContext;
  private chip: HTMLElement | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    const ctx = this.ctx;
    if (!ctx || !ctx.user) return;
    // The user plugin's UI API names the user; the page works without it.
    ctx
      .uiApi<UserUiApi>("user")
      .then((users) => {
        this.chip = users.userChip(ctx.user);
        this.requestUpdate();
      })
      .catch(() => undefined);
  }

  protected override render() {
    return html`<header><h1>My tasks</h1>${this.chip ?? nothing}</header>${super.render()}`;
  }
}

export function mount(host: HTMLElement, ctx: PageContext): () => void {
  const page = document.createElement(defineElement("active-task-mobile-tasks", TasksPage)) as TasksPage;
  page.ctx = ctx;
  host.replaceChildren(page);
  return () => host.replaceChildren();
}
