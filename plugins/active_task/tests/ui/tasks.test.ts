import { Instant } from "@peek/vortex";
import { afterEach, beforeEach, expect, it } from "vitest";

import { mount } from "../../peek_plugin_active_task/_private/mobile-app/tasks-page.js";
import userApi from "../../../user/peek_plugin_user/_private/shared-app/api.js";
import { fakeVortex, settle } from "../../../../ui/shell/test/helpers.js";

const open = { _t: "active_task.Task", task_id: "t1", username: "alice", title: "Inspect feeder 12", description: "hot", created_at: Instant.now(), completed_at: null };

beforeEach(() => localStorage.clear());
afterEach(() => document.body.replaceChildren());

const noUiApi = () => Promise.reject(new Error("none"));

function page(user: string | null = "alice", uiApi: (plugin: string) => Promise<unknown> = noUiApi) {
  const vortex = fakeVortex();
  const host = document.createElement("div");
  document.body.append(host);
  mount(host, { vortex, user: user ? { username: user, displayName: "Alice Example" } : null, uiApi } as never);
  const element = host.firstElementChild as HTMLElement & { updateComplete: Promise<boolean> };
  return { vortex, element, text: () => element.shadowRoot!.textContent!.replace(/\s+/g, " ") };
}

it("watches the logged-in user's tasks and lists them", async () => {
  const { vortex, element, text } = page();
  await settle(element);
  vortex.feeds.get("active_task.Task")!.next([open]);
  await settle(element);
  expect(text()).toContain("Inspect feeder 12");
  expect(element.shadowRoot!.querySelector("button.complete")).not.toBeNull();
});

it("sends CompleteTask and shows the task done from the reply", async () => {
  const { vortex, element } = page();
  vortex.action = async (action) => {
    vortex.sent.push(action);
    return [{ ...open, completed_at: Instant.now() }] as never;
  };
  await settle(element);
  vortex.feeds.get("active_task.Task")!.next([open]);
  await settle(element);
  (element.shadowRoot!.querySelector("button.complete") as HTMLButtonElement).click();
  await settle(element);
  expect(vortex.sent).toEqual([{ _t: "active_task.CompleteTask", task_id: "t1" }]);
  expect(element.shadowRoot!.querySelector('[data-status="done"]')).not.toBeNull();
  expect(localStorage.getItem("peek.active_task.completing")).toBe("[]");
});

it("remembers a completion waiting to be sent across a restart of the page", async () => {
  const first = page();
  first.vortex.action = () => new Promise(() => undefined); // offline: queued, never answered here
  await settle(first.element);
  first.vortex.feeds.get("active_task.Task")!.next([open]);
  await settle(first.element);
  (first.element.shadowRoot!.querySelector("button.complete") as HTMLButtonElement).click();
  await settle(first.element);
  document.body.replaceChildren();
  const second = page();
  await settle(second.element);
  second.vortex.feeds.get("active_task.Task")!.next([open]);
  await settle(second.element);
  expect(second.element.shadowRoot!.querySelector('[data-status="syncing"]')).not.toBeNull();
});

it("offers a retry when the server refuses the completion", async () => {
  const { vortex, element, text } = page();
  vortex.action = async () => {
    throw new Error("that task belongs to someone else");
  };
  await settle(element);
  vortex.feeds.get("active_task.Task")!.next([open]);
  await settle(element);
  (element.shadowRoot!.querySelector("button.complete") as HTMLButtonElement).click();
  await settle(element);
  expect(text()).toContain("that task belongs to someone else");
  expect(element.shadowRoot!.querySelector("button.complete")!.textContent).toContain("Retry");
});

it("asks for a login without a user", async () => {
  const { element, text } = page(null);
  await settle(element);
  expect(text()).toContain("log in to see your tasks");
});

it("names the user in its header with the user plugin's UI API", async () => {
  const asked: string[] = [];
  const { element } = page("alice", async (plugin) => {
    asked.push(plugin);
    return userApi;
  });
  await settle(element);
  expect(asked).toEqual(["user"]);
  expect(element.shadowRoot!.querySelector("header .peek-user-chip")!.textContent).toBe("AEAlice Example");
});
