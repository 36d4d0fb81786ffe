import { Instant } from "@peek/vortex";
import { afterEach, beforeEach, expect, it } from "vitest";

import api, { tuples } from "../../peek_plugin_active_task/_private/shared-app/api.js";
import type { ActiveTask } from "../../ui-api/index.js";
import { fakeVortex, settle } from "../../../../ui/shell/test/helpers.js";

const task = (task_id: string, title: string, done = false) => ({
  _t: "active_task.Task",
  task_id,
  username: "alice",
  title,
  description: "",
  completed_at: done ? Instant.now() : null,
});

beforeEach(() => localStorage.clear());
afterEach(() => document.body.replaceChildren());

function context(user: string | null = "alice") {
  const vortex = fakeVortex();
  return { vortex, user: user === null ? null : { username: user } };
}

it("publishes its tuples for the shell to register", () => {
  expect(tuples.map((t) => t.name)).toEqual(["active_task.Task", "active_task.CompleteTask"]);
});

it("tasks() watches the logged-in user's tasks live, open ones first", () => {
  const ctx = context();
  const seen: string[][] = [];
  const sub = api.tasks(ctx).subscribe((list) => seen.push(list.map((t) => t.task_id)));
  const feed = ctx.vortex.feeds.get("active_task.Task")!;
  feed.next([task("done", "Old", true), task("open", "New")]);
  feed.next([task("done", "Old", true)]);
  sub.unsubscribe();
  feed.next([task("late", "After unsubscribe")]);
  expect(seen).toEqual([["open", "done"], ["done"]]);
});

it("tasks() fails at once without a logged-in user", () => {
  const errors: unknown[] = [];
  api.tasks(context(null)).subscribe({ error: (e: unknown) => errors.push(e) });
  expect(String(errors[0])).toContain("log in to see your tasks");
});

it("isOpen() tells open tasks from completed ones", () => {
  expect(api.isOpen(task("a", "A") as ActiveTask)).toBe(true);
  expect(api.isOpen(task("b", "B", true) as ActiveTask)).toBe(false);
});

it("complete() sends CompleteTask and resolves with the server's task", async () => {
  const ctx = context();
  ctx.vortex.action = async (action) => {
    ctx.vortex.sent.push(action);
    return [task("t1", "Inspect", true)] as never;
  };
  const updated = await api.complete(ctx, "t1");
  expect(ctx.vortex.sent).toEqual([{ _t: "active_task.CompleteTask", task_id: "t1" }]);
  expect(api.isOpen(updated)).toBe(false);
});

it("taskList() is an element listing the tasks that completes one", async () => {
  const ctx = context();
  ctx.vortex.action = async (action) => {
    ctx.vortex.sent.push(action);
    return [task("t1", "Inspect feeder 12", true)] as never;
  };
  const list = api.taskList(ctx) as HTMLElement & { updateComplete: Promise<boolean> };
  document.body.append(list);
  await settle(list);
  ctx.vortex.feeds.get("active_task.Task")!.next([task("t1", "Inspect feeder 12")]);
  await settle(list);
  expect(list.shadowRoot!.textContent).toContain("Inspect feeder 12");
  (list.shadowRoot!.querySelector("button.complete") as HTMLButtonElement).click();
  await settle(list);
  expect(ctx.vortex.sent).toEqual([{ _t: "active_task.CompleteTask", task_id: "t1" }]);
  expect(list.shadowRoot!.querySelector('[data-status="done"]')).not.toBeNull();
});
