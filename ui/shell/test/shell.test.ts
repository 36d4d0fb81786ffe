import { afterEach, describe, expect, it, vi } from "vitest";

import { ModuleLoader, ModuleLoadError } from "../src/loader.js";
import { parseIndex } from "../src/pages.js";
import { PeekPageHost } from "../src/page-host.js";
import { hashFor, parseHash } from "../src/router.js";
import { PeekShell, defineShellElements } from "../src/shell.js";
import { entry, fakePages, fakeSession, settle } from "./helpers.js";

defineShellElements();

function text(el: Element): string {
  return (el.shadowRoot?.textContent ?? "").replace(/\s+/g, " ");
}

describe("routes", () => {
  it("reads the route and the rest of the path from the hash", () => {
    expect(parseHash("#/tasks/a/b")).toEqual({ route: "tasks", subpath: "a/b" });
    expect(parseHash("")).toEqual({ route: "", subpath: "" });
    expect(hashFor("noop")).toBe("#/noop");
  });
});

describe("pages index", () => {
  it("refuses an index that is not an object with pages", () => {
    expect(() => parseIndex("desktop", null)).toThrow(/not an object/);
    expect(() => parseIndex("desktop", { pages: 3 })).toThrow(/no list of pages/);
  });

  it("drops malformed pages and keeps the rest", () => {
    const index = parseIndex("desktop", { version: 4, pages: [entry("ok"), { route: 7 }], apis: {} });
    expect(index.pages.map((p) => p.route)).toEqual(["ok"]);
    expect(index.version).toBe(4);
  });
});

describe("module loader", () => {
  it("refuses a module the platform cannot serve, saying why", async () => {
    const loader = new ModuleLoader(vi.fn(), vi.fn());
    await expect(loader.load(null, null, "desktop/x.js is missing")).rejects.toThrow("desktop/x.js is missing");
  });

  it("checks and imports each URL once", async () => {
    const preload = vi.fn(async () => undefined);
    const importer = vi.fn(async () => ({ mount: () => undefined }));
    const loader = new ModuleLoader(preload, importer);
    await loader.load("/m.js", "sha384-a");
    await loader.load("/m.js", "sha384-a");
    expect(preload).toHaveBeenCalledTimes(1);
    expect(preload).toHaveBeenCalledWith("/m.js", "sha384-a");
    expect(importer).toHaveBeenCalledTimes(1);
  });

  it("never imports a module whose integrity check failed, and tries again later", async () => {
    const preload = vi.fn().mockRejectedValueOnce(new ModuleLoadError("/m.js", "integrity")).mockResolvedValue(undefined);
    const importer = vi.fn(async () => ({}));
    const loader = new ModuleLoader(preload, importer);
    await expect(loader.load("/m.js", "sha384-a")).rejects.toThrow("integrity");
    expect(importer).not.toHaveBeenCalled();
    await loader.load("/m.js", "sha384-a");
    expect(importer).toHaveBeenCalledTimes(1);
  });
});

describe("the shell", () => {
  afterEach(() => document.body.replaceChildren());

  function mountShell(layout: "side" | "bottom" = "side") {
    const session = fakeSession();
    const pages = fakePages();
    const shell = document.createElement("peek-shell") as PeekShell;
    shell.options = { app: "desktop", title: "Peek", layout };
    shell.session = session;
    shell.pages = pages;
    document.body.append(shell);
    return { shell, session, pages };
  }

  it("asks for a login first and watches no pages before it", async () => {
    const { shell, pages } = mountShell();
    await settle(shell);
    expect(shell.shadowRoot?.querySelector("form input[name=username]")).not.toBeNull();
    expect(pages.watching).toBe(0);
  });

  it("shows a refused login as a wrong password", async () => {
    const { shell } = mountShell();
    await settle(shell);
    const root = shell.shadowRoot!;
    (root.querySelector("input[name=username]") as HTMLInputElement).value = "alice";
    (root.querySelector("input[name=password]") as HTMLInputElement).value = "wrong";
    root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle(shell);
    expect(text(shell)).toContain("Wrong username or password.");
  });

  it("shows a throttled login with the time to wait", async () => {
    const { shell } = mountShell();
    await settle(shell);
    const root = shell.shadowRoot!;
    (root.querySelector("input[name=username]") as HTMLInputElement).value = "alice";
    (root.querySelector("input[name=password]") as HTMLInputElement).value = "too-often";
    root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle(shell);
    expect(text(shell)).toContain("Too many failed logins. Try again in 8 s.");
  });

  it("builds the navigation from the pages index and follows its changes", async () => {
    const { shell, session, pages } = mountShell();
    session.users.next({ username: "alice" });
    await settle(shell);
    expect(pages.watching).toBe(1);
    pages.push({ app: "desktop", version: 1, pages: [entry("noop"), entry("tasks")], apis: {} });
    await settle(shell);
    const routes = () => [...shell.shadowRoot!.querySelectorAll("nav a")].map((a) => a.getAttribute("data-route"));
    expect(routes()).toEqual(["", "noop", "tasks"]);
    pages.push({ app: "desktop", version: 2, pages: [entry("tasks")], apis: {} });
    await settle(shell);
    expect(routes()).toEqual(["", "tasks"]);
  });

  it("lists the app's own pages first and shows one, keeping its element, over a plugin's same route", async () => {
    const { shell, session, pages } = mountShell();
    const made: HTMLElement[] = [];
    shell.options = {
      ...shell.options,
      platformPages: [
        {
          route: "platform-plugins",
          title: "Plugins",
          icon: "gear",
          create: (given) => {
            expect(given).toBe(session);
            const element = document.createElement("section");
            element.textContent = "the plugins page";
            made.push(element);
            return element;
          },
        },
      ],
    };
    session.users.next({ username: "admin" });
    await settle(shell);
    pages.push({ app: "desktop", version: 1, pages: [entry("noop"), entry("platform-plugins")], apis: {} });
    await settle(shell);
    const routes = () => [...shell.shadowRoot!.querySelectorAll("nav a")].map((a) => a.getAttribute("data-route"));
    expect(routes()).toEqual(["", "platform-plugins", "noop"]);
    window.location.hash = "#/platform-plugins";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await settle(shell);
    expect(text(shell)).toContain("the plugins page");
    expect(shell.shadowRoot!.querySelector("peek-page-host")).toBeNull();
    pages.push({ app: "desktop", version: 2, pages: [entry("noop")], apis: {} });
    await settle(shell);
    expect(made).toHaveLength(1);
    window.location.hash = "";
  });

  it("shows the connection state", async () => {
    const { shell, session } = mountShell();
    session.users.next({ username: "alice" });
    await settle(shell);
    const badge = shell.shadowRoot!.querySelector(".conn")!;
    expect(badge.getAttribute("data-state")).toBe("reconnecting");
    expect(badge.textContent).toContain("Reconnecting");
  });

  it("stops watching pages at logout", async () => {
    const { shell, session, pages } = mountShell();
    session.users.next({ username: "alice" });
    await settle(shell);
    session.users.next(null);
    await settle(shell);
    expect(pages.watching).toBe(0);
  });

  it("lays the navigation out at the bottom on mobile", async () => {
    const { shell, session } = mountShell("bottom");
    session.users.next({ username: "alice" });
    await settle(shell);
    expect(shell.shadowRoot!.querySelector(".layout-bottom nav")).not.toBeNull();
  });
});

describe("the page host", () => {
  afterEach(() => document.body.replaceChildren());

  function host(module: Record<string, unknown> | Error) {
    const element = document.createElement("peek-page-host") as PeekPageHost;
    element.loader = new ModuleLoader(
      async () => undefined,
      async () => {
        if (module instanceof Error) throw module;
        return module;
      },
    );
    element.context = (e) => ({ route: e.route }) as never;
    element.entry = entry("noop");
    document.body.append(element);
    return element;
  }

  it("mounts a module and unmounts it when it goes away", async () => {
    const unmount = vi.fn();
    const element = host({ mount: (h: HTMLElement) => ((h.textContent = "hello"), unmount) });
    await settle(element);
    expect(element.textContent).toContain("hello");
    element.remove();
    expect(unmount).toHaveBeenCalledOnce();
  });

  it("shows an error card when the module throws while loading", async () => {
    const element = host(new Error("boom at import"));
    await settle(element);
    const card = element.shadowRoot!.querySelector(".error-card")!;
    expect(card.getAttribute("role")).toBe("alert");
    expect(card.textContent).toContain("boom at import");
  });

  it("shows an error card when mount throws", async () => {
    const element = host({
      mount: () => {
        throw new Error("mount failed");
      },
    });
    await settle(element);
    expect(element.shadowRoot!.querySelector(".error-card")?.textContent).toContain("mount failed");
  });

  it("shows an error card for a module without mount()", async () => {
    const element = host({ something: 1 });
    await settle(element);
    expect(element.shadowRoot!.querySelector(".error-card")?.textContent).toContain("exports no mount");
  });
});
