import type { ConnectionState, PageUser } from "@peek/plugin-sdk";
import { MemoryStore, VortexClient, defineTuple } from "@peek/vortex";
import { BehaviorSubject } from "rxjs";
import { describe, expect, it, vi } from "vitest";

import { adminSiteSession, registerTuples } from "../src/sessions.js";

const client = (): VortexClient => new VortexClient({ tuples: [], store: new MemoryStore() });

describe("registerTuples", () => {
  it("declares a module's tuple types through the client's public registerTuples and skips what is not one", () => {
    const c = client();
    const given: unknown[] = [];
    const original = c.registerTuples.bind(c);
    c.registerTuples = (...types) => {
      given.push(...types);
      original(...types);
    };
    const task = defineTuple("peek_plugin_x.Task", { id: "int" });
    registerTuples(c, [task, 42, { name: 7 }, null]);
    expect(given).toEqual([task]);
  });

  it("keeps the first definition of a type that comes back with other fields", () => {
    const c = client();
    registerTuples(c, [defineTuple("peek_plugin_x.Task", { id: "int" })]);
    const changed = defineTuple("peek_plugin_x.Task", { id: "str" });
    expect(() => registerTuples(c, [changed])).not.toThrow();
    expect(() => c.registerTuples(changed)).toThrow(TypeError);
  });
});

/** A stand-in for the admin site's vortex client: the test drives its user and state. */
interface FakeClient {
  wasClosed: boolean;
  readonly user$: BehaviorSubject<string | null>;
}

function fakeClient(made: FakeClient[]): VortexClient {
  const fake = {
    wasClosed: false,
    user$: new BehaviorSubject<string | null>(null),
    state$: new BehaviorSubject<ConnectionState>("reconnecting"),
    connect: () => undefined,
    registerTuples: () => undefined,
    login: async () => {
      fake.user$.next("admin");
      return "admin";
    },
    logout: async () => {
      fake.user$.next(null);
    },
    close: async () => {
      fake.wasClosed = true;
    },
  };
  made.push(fake);
  return fake as unknown as VortexClient;
}

function adminSite(answers: { user: string | null; csrf: string | null }[]): typeof fetch {
  return (async () => {
    const body = answers.length > 1 ? answers.shift() : answers[0];
    return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });
  }) as typeof fetch;
}

describe("adminSiteSession", () => {
  it("turns the user null and stops the client when the admin site stops knowing the session", async () => {
    const made: FakeClient[] = [];
    const session = adminSiteSession(adminSite([{ user: "admin", csrf: "c1" }]), () => fakeClient(made));
    const users = new BehaviorSubject<PageUser | null>(null);
    session.user.subscribe(users);
    await vi.waitFor(() => expect(users.value?.username).toBe("admin"));
    const states: ConnectionState[] = [];
    session.state.subscribe((s) => states.push(s));
    const client = made[0]!;
    client.user$.next("admin"); // welcomed as the admin
    client.user$.next(null); // the session was refused on a reconnect
    await vi.waitFor(() => expect(users.value).toBeNull());
    expect(client.wasClosed).toBe(true);
    expect(states.at(-1)).toBe("offline");
    expect(session.csrfToken?.()).toBeNull();
  });

  it("does not log out before the client was ever welcomed as the admin", async () => {
    const made: FakeClient[] = [];
    const session = adminSiteSession(adminSite([{ user: "admin", csrf: "c1" }]), () => fakeClient(made));
    const users = new BehaviorSubject<PageUser | null>(null);
    session.user.subscribe(users);
    await vi.waitFor(() => expect(users.value?.username).toBe("admin"));
    made[0]!.user$.next(null); // still connecting: nothing said about the session yet
    expect(users.value?.username).toBe("admin");
    expect(made[0]!.wasClosed).toBe(false);
  });

  it("logs in again with a fresh client after the session was lost", async () => {
    const made: FakeClient[] = [];
    const session = adminSiteSession(
      adminSite([
        { user: "admin", csrf: "c1" },
        { user: "admin", csrf: "c2" },
      ]),
      () => fakeClient(made),
    );
    const users = new BehaviorSubject<PageUser | null>(null);
    session.user.subscribe(users);
    await vi.waitFor(() => expect(users.value?.username).toBe("admin"));
    made[0]!.user$.next("admin");
    made[0]!.user$.next(null);
    await vi.waitFor(() => expect(users.value).toBeNull());
    await session.login("admin", "pw");
    expect(made).toHaveLength(2);
    expect(users.value?.username).toBe("admin");
    expect(session.csrfToken?.()).toBe("c2");
  });
});
