import { Instant } from "@peek/vortex";
import { afterEach, expect, it } from "vitest";

import activeTaskApi from "../../../active_task/peek_plugin_active_task/_private/shared-app/api.js";
import { mount as mountAdmin } from "../../peek_plugin_noop/_private/admin-app/counter-page.js";
import { mount } from "../../peek_plugin_noop/_private/desktop-app/counter-page.js";
import { mount as mountMobile } from "../../peek_plugin_noop/_private/mobile-app/counter-page.js";
import noopApi from "../../peek_plugin_noop/_private/shared-app/api.js";
import { fakeVortex, settle } from "../../../../ui/shell/test/helpers.js";

afterEach(() => document.body.replaceChildren());

type Lit = HTMLElement & { updateComplete: Promise<boolean> };
const noUiApi = () => Promise.reject(new Error("plugin active_task publishes no UI API here"));

function page(mountPage = mount, uiApi: (plugin: string) => Promise<unknown> = noUiApi) {
  const vortex = fakeVortex();
  const host = document.createElement("div");
  document.body.append(host);
  mountPage(host, { vortex, user: { username: "alice" }, uiApi } as never);
  const panel = host.querySelector("noop-counter-panel") as Lit;
  return { vortex, host, panel };
}

it("shows the observed counter and its updates", async () => {
  const { vortex, panel } = page();
  await settle(panel);
  const feed = vortex.feeds.get("noop.Counter")!;
  feed.next([{ _t: "noop.Counter", name: "clicks", value: 4, updated: Instant.now() }]);
  await settle(panel);
  expect(panel.shadowRoot!.querySelector("[data-testid=noop-value]")!.textContent).toBe("4");
  feed.next([{ _t: "noop.Counter", name: "clicks", value: 5, updated: Instant.now() }]);
  await settle(panel);
  expect(panel.shadowRoot!.querySelector("[data-testid=noop-value]")!.textContent).toBe("5");
});

it("sends a Bump of the clicks counter", async () => {
  const { vortex, panel } = page();
  await settle(panel);
  (panel.shadowRoot!.querySelector("[data-testid=noop-bump]") as HTMLButtonElement).click();
  await settle(panel);
  expect(vortex.sent).toEqual([{ _t: "noop.Bump", name: "clicks", by: 1 }]);
});

it("says so when the bump is refused", async () => {
  const { vortex, panel } = page();
  vortex.action = async () => {
    throw new Error("log in to send noop.Bump");
  };
  await settle(panel);
  (panel.shadowRoot!.querySelector("[data-testid=noop-bump]") as HTMLButtonElement).click();
  await settle(panel);
  expect(panel.shadowRoot!.querySelector("[role=alert]")!.textContent).toContain("log in to send noop.Bump");
});

it("gives each app the shared page with its own heading and layout", async () => {
  const admin = page(mountAdmin);
  const mobile = page(mountMobile);
  expect(admin.host.querySelector("h1")!.textContent).toBe("No-op (admin)");
  expect(admin.panel.hasAttribute("compact")).toBe(false);
  expect(mobile.host.querySelector("h1")!.textContent).toBe("No-op");
  expect(mobile.panel.hasAttribute("compact")).toBe(true);
});

it("lists the user's tasks on the desktop page through active_task's UI API", async () => {
  const asked: string[] = [];
  const { vortex, host, panel } = page(mount, async (plugin) => {
    asked.push(plugin);
    return activeTaskApi;
  });
  await settle(panel);
  const list = host.querySelector("[data-testid=noop-tasks] active-task-list") as Lit;
  expect(asked).toEqual(["active_task"]);
  vortex.feeds.get("active_task.Task")!.next([
    { _t: "active_task.Task", task_id: "t1", username: "alice", title: "Inspect feeder 12", description: "", completed_at: null },
  ]);
  await settle(list);
  expect(list.shadowRoot!.textContent).toContain("Inspect feeder 12");
});

it("is the counter alone where active_task publishes no UI API", async () => {
  const { host, panel } = page(mount, noUiApi);
  await settle(panel);
  expect(host.querySelector("[data-testid=noop-tasks]")).toBeNull();
  expect(host.children).toHaveLength(2);
});

it("publishes its counter panel for other plugins' pages", async () => {
  const vortex = fakeVortex();
  const panel = noopApi.counterPanel({ vortex }, { compact: true }) as Lit;
  document.body.append(panel);
  await settle(panel);
  vortex.feeds.get("noop.Counter")!.next([{ _t: "noop.Counter", name: noopApi.counterName, value: 7, updated: Instant.now() }]);
  await settle(panel);
  expect(panel.hasAttribute("compact")).toBe(true);
  expect(panel.shadowRoot!.querySelector("[data-testid=noop-value]")!.textContent).toBe("7");
  (panel.shadowRoot!.querySelector("[data-testid=noop-bump]") as HTMLButtonElement).click();
  await settle(panel);
  expect(vortex.sent).toEqual([{ _t: "noop.Bump", name: "clicks", by: 1 }]);
});
