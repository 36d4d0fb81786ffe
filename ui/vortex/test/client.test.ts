/**
 * The client against a real Peek server and client service (noop and user
 * enabled): login, observables, actions and their errors, the POST fallback.
 * No IndexedDB here: the client falls back to its in-memory store.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Instant, LoginError, VortexClient, VortexError, defineTuple, type Header } from "../src/index.js";
import { PeekStack, next, recordingSockets } from "./stack.js";
import { Bump, Counter, Echo, NOOP_TUPLES } from "./tuples.js";

const Missing = defineTuple("noop.Missing", { name: "str" });

let stack: PeekStack;
const clients: VortexClient[] = [];

function client(sent: Header[] = []): VortexClient {
  const made = new VortexClient({
    url: stack.url,
    tuples: [...NOOP_TUPLES, Missing],
    webSocket: recordingSockets(sent),
    backoff: { initial: 0.1, max: 1 },
  });
  clients.push(made);
  return made;
}

async function loggedIn(sent: Header[] = []): Promise<VortexClient> {
  const made = client(sent);
  await made.login(stack.username, stack.password);
  await next(made.state$, (state) => state === "online");
  return made;
}

async function rejection(promise: Promise<unknown>): Promise<VortexError> {
  try {
    await promise;
  } catch (exc) {
    assert.ok(exc instanceof VortexError, String(exc));
    return exc;
  }
  assert.fail("it did not fail");
}

before(async () => {
  stack = await PeekStack.start();
});

after(async () => {
  await Promise.all(clients.map((made) => made.close()));
  await stack.stop();
});

describe("login", () => {
  test("a good password logs in and the socket comes online as that user", async () => {
    const vortex = client();
    assert.equal(await vortex.login(stack.username, stack.password), stack.username);
    assert.equal(await next(vortex.state$, (state) => state === "online"), "online");
    assert.equal(await next(vortex.user$), stack.username);
  });

  test("a wrong password is refused with 401 and no connection", async () => {
    const vortex = client();
    const error = await rejection(vortex.login(stack.username, "wrong"));
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "refused");
    assert.equal(error.status, 401);
    assert.equal(vortex.state, "offline");
  });

  test("a name that failed too often is throttled with the seconds to wait", async () => {
    // Its own name: the lock must not hold up the other tests' logins.
    const vortex = client();
    for (let i = 0; i < 5; i += 1) assert.equal((await rejection(vortex.login("mallory", "guess"))).code, "refused");
    const error = await rejection(vortex.login("mallory", "guess"));
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "throttled");
    assert.equal(error.status, 429);
    assert.ok(error.retryAfter !== null && error.retryAfter >= 1);
  });

  test("an unreachable service is told apart from a refusal", async () => {
    const vortex = new VortexClient({ url: "http://127.0.0.1:9", tuples: NOOP_TUPLES, webSocket: recordingSockets() });
    clients.push(vortex);
    const error = await rejection(vortex.login("a", "b"));
    assert.equal(error.code, "unreachable");
  });

  test("logout ends the session: actions needing a login are refused after", async () => {
    const vortex = await loggedIn();
    await vortex.logout();
    assert.equal(await next(vortex.user$), null);
    await next(vortex.state$, (state) => state === "online");
    const error = await rejection(vortex.action(Bump.make({ name: "logout" })));
    assert.equal(error.code, "unauthenticated");
  });
});

describe("observables", () => {
  test("observe gives the current value, then the update after an action", async () => {
    const vortex = await loggedIn();
    const values: number[] = [];
    const seen = vortex
      .observe("noop.Counter", { name: "observe" })
      .subscribe((tuples) => values.push(Number(tuples[0]?.value)));
    try {
      const first = await next(vortex.observe("noop.Counter", { name: "observe" }));
      assert.equal(first[0]?.value, 0);
      assert.ok(first[0].updated instanceof Instant);
      const [reply] = await vortex.action(Bump.make({ name: "observe", by: 5 }));
      assert.equal(reply?.value, 5);
      await next(vortex.observe("noop.Counter", { name: "observe" }), (tuples) => tuples[0]?.value === 5);
      assert.deepEqual(values, [0, 5]);
    } finally {
      seen.unsubscribe();
    }
  });

  test("anonymous sockets may observe what the handler allows anonymously", async () => {
    const vortex = client();
    vortex.connect();
    const [counter] = await next(vortex.observe("noop.Counter", { name: "anonymous" }));
    assert.equal(counter?.value, 0);
  });

  test("many observers of one selector share one subscription; the last one leaving ends it", async () => {
    const sent: Header[] = [];
    const vortex = await loggedIn(sent);
    const counter = vortex.observe("noop.Counter", { name: "shared" });
    const one = counter.subscribe();
    const two = counter.subscribe();
    await next(counter);
    const subs = (t: string): number =>
      sent.filter((h) => h.t === t && (h.selector as { name?: string }).name === "shared").length;
    assert.equal(subs("sub"), 1);
    one.unsubscribe();
    assert.equal(subs("unsub"), 0);
    two.unsubscribe();
    assert.equal(subs("unsub"), 1);
  });

  test("data of an undeclared tuple type errors the observable with unknown_tuple", async () => {
    const vortex = new VortexClient({ url: stack.url, tuples: [], webSocket: recordingSockets() });
    clients.push(vortex);
    vortex.connect();
    const error = await rejection(next(vortex.observe("noop.Counter", { name: "undeclared" })));
    assert.equal(error.code, "unknown_tuple");
  });

  test("tuple types declared after construction are known from then on", async () => {
    const vortex = new VortexClient({ url: stack.url, tuples: [], webSocket: recordingSockets() });
    clients.push(vortex);
    vortex.registerTuples(Counter);
    vortex.connect();
    const [counter] = await next(vortex.observe("noop.Counter", { name: "late" }));
    assert.equal(counter?.name, "late");
  });

  test("a key nobody provides errors the observable with no_handler", async () => {
    const vortex = await loggedIn();
    const error = await rejection(next(vortex.observe("noop.Missing", { name: "x" })));
    assert.equal(error.code, "no_handler");
  });

  test("a selector with a float is refused before anything is sent", async () => {
    const vortex = await loggedIn();
    await assert.rejects(next(vortex.observe("noop.Counter", { name: 1.5 })), TypeError);
  });
});

describe("actions", () => {
  test("an action with every field type comes back from the server unchanged", async () => {
    const vortex = await loggedIn();
    const echo = Echo.make({
      text: "héllo ✓",
      number: 2 ** 40,
      ratio: 1,
      flag: true,
      when: new Instant(1_700_000_000, 123_456_000),
      day: "2024-02-29",
      amount: "12.30",
      raw: Uint8Array.of(0, 255),
      items: [1, -1, 9007199254740993n],
      table: { a: "b" },
      note: { _t: "noop.Note", text: "n" },
      notes: [{ _t: "noop.Note", text: "m" }],
      nothing: null,
    });
    const [reply] = await vortex.action(echo, { timeout: 10 });
    assert.deepEqual(reply, { ...echo, ratio: 1, number: 2 ** 40 });
  });

  test("a refused action rejects with the service's code", async () => {
    const vortex = client();
    vortex.connect();
    await next(vortex.state$, (state) => state === "online");
    const error = await rejection(vortex.action(Bump.make({ name: "anon" })));
    assert.equal(error.code, "unauthenticated");
  });

  test("an action nobody processes rejects with no_handler", async () => {
    const vortex = await loggedIn();
    const error = await rejection(vortex.action(Missing.make({ name: "x" })));
    assert.equal(error.code, "no_handler");
  });

  test("an action the registry cannot encode is refused before sending", async () => {
    const sent: Header[] = [];
    const vortex = await loggedIn(sent);
    const error = await rejection(vortex.action({ _t: "noop.Bump", name: 1 }));
    assert.equal(error.code, "invalid_tuple");
    assert.equal(sent.filter((h) => h.t === "act").length, 0);
  });

  test("a resend of an answered id gets the stored answer, not a second run", async () => {
    const vortex = await loggedIn();
    const [first] = await vortex.action(Bump.make({ name: "once", by: 1 }), { id: "ts-once-1" });
    const [again] = await vortex.action(Bump.make({ name: "once", by: 1 }), { id: "ts-once-1" });
    assert.deepEqual(again, first);
    const [counter] = await next(vortex.observe("noop.Counter", { name: "once" }));
    assert.equal(counter?.value, 1);
  });

  test("the HTTP POST fallback answers like the socket", async () => {
    const vortex = await loggedIn();
    const [reply] = await vortex.postAction(Bump.make({ name: "post", by: 7 }));
    assert.equal(reply?.value, 7);
    const anonymous = client();
    const error = await rejection(anonymous.postAction(Bump.make({ name: "post" })));
    assert.equal(error.code, "unauthenticated");
  });
});
