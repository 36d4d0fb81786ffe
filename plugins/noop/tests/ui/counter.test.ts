import { Instant } from "@peek/vortex";
import { afterEach, expect, it } from "vitest";

import { mount } from "../../peek_plugin_noop/_private/desktop-app/counter-page.js";
import { fakeVortex, settle } from "../../../../ui/shell/test/helpers.js";

afterEach(() => document.body.replaceChildren());

function page() {
  const vortex = fakeVortex();
  const host = document.createElement("div");
  document.body.append(host);
  mount(host, { vortex, user: { username: "alice" } } as never);
  const panel = host.querySelector("[data-testid], noop-counter-panel") ?? host.lastElementChild!;
  return { vortex, panel: panel as HTMLElement & { updateComplete: Promise<boolean> } };
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
