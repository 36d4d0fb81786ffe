import { afterEach, expect, it } from "vitest";

import { displayName, initials, userChip } from "../../peek_plugin_user/_private/shared-app/api.js";
import { mount } from "../../peek_plugin_user/_private/admin-app/users-page.js";
import { settle } from "../../../../ui/shell/test/helpers.js";

afterEach(() => document.body.replaceChildren());

it("names users by display name, else username", () => {
  expect(displayName({ username: "alice", displayName: "Alice Smith" })).toBe("Alice Smith");
  expect(displayName({ username: "bob" })).toBe("bob");
  expect(initials({ username: "alice", displayName: "Alice Smith" })).toBe("AS");
  expect(userChip({ username: "bob" }).textContent).toBe("Bbob");
});

function page(answers: Record<string, unknown>) {
  const calls: [string, string, unknown][] = [];
  const http = {
    json: async (method: string, path: string, body?: unknown) => {
      calls.push([method, path, body]);
      const answer = answers[`${method} ${path}`];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  const host = document.createElement("div");
  document.body.append(host);
  mount(host, { http } as never);
  const element = host.firstElementChild as HTMLElement & { updateComplete: Promise<boolean> };
  return { calls, element };
}

const users = { users: [{ username: "alice", display_name: "Alice", is_admin: false }] };

it("lists the users", async () => {
  const { element } = page({ "GET /users": users });
  await settle(element);
  expect(element.shadowRoot!.querySelector('tr[data-user="alice"]')?.textContent).toContain("Alice");
});

it("adds a user and lists again", async () => {
  const { element, calls } = page({ "GET /users": users, "POST /users": { user: {} } });
  await settle(element);
  const form = element.shadowRoot!.querySelector("form")!;
  (form.querySelector("[name=username]") as HTMLInputElement).value = "bob";
  (form.querySelector("[name=password]") as HTMLInputElement).value = "pw";
  form.dispatchEvent(new Event("submit", { cancelable: true }));
  await settle(element);
  expect(calls.map(([m, p]) => `${m} ${p}`)).toEqual(["GET /users", "POST /users", "GET /users"]);
  expect(calls[1]![2]).toMatchObject({ username: "bob", password: "pw", is_admin: false });
});

it("shows why the server refused", async () => {
  const { element } = page({ "GET /users": users, "DELETE /users/alice": new Error("no user named 'alice'") });
  await settle(element);
  (element.shadowRoot!.querySelector("button.danger") as HTMLButtonElement).click();
  await settle(element);
  expect(element.shadowRoot!.querySelector("[role=alert]")?.textContent).toContain("no user named 'alice'");
});
