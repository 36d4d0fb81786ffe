/**
 * Outages of the real client service (frozen with SIGSTOP, killed with
 * SIGKILL, restarted on the same port): dead-peer detection, reconnect,
 * resubscription, resending of unanswered actions, and the offline cache and
 * action queue in a real IndexedDB implementation (fake-indexeddb).
 */

import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";

import { IndexedDbStore, VortexClient, VortexError, selectorId, type ActionAnswer, type Header } from "../src/index.js";
import { PeekStack, next, recordingSockets, until } from "./stack.js";
import { Bump, NOOP_TUPLES } from "./tuples.js";

let stack: PeekStack;
const clients: VortexClient[] = [];

function client(store: string, sent: Header[] = []): VortexClient {
  const made = new VortexClient({
    url: stack.url,
    tuples: NOOP_TUPLES,
    webSocket: recordingSockets(sent),
    store,
    backoff: { initial: 0.1, max: 1 },
    connectTimeout: 2,
  });
  clients.push(made);
  return made;
}

async function loggedIn(store: string, sent: Header[] = []): Promise<VortexClient> {
  const made = client(store, sent);
  await made.login(stack.username, stack.password);
  await next(made.state$, (state) => state === "online");
  return made;
}

async function queued(store: string): Promise<number> {
  const opened = await IndexedDbStore.open(store);
  try {
    return (await opened.queued(stack.username)).length;
  } finally {
    opened.close();
  }
}

const acts = (sent: Header[], id: string): number => sent.filter((h) => h.t === "act" && h.id === id).length;

before(async () => {
  stack = await PeekStack.start();
});

beforeEach(async () => {
  if (stack.client === null) await stack.startClient();
});

after(async () => {
  await Promise.all(clients.map((made) => made.close()));
  await stack.stop();
});

describe("outages of the client service", () => {
  test("an action in flight when the service freezes is resent after it is replaced, and runs once", async () => {
    const sent: Header[] = [];
    const vortex = await loggedIn("inflight", sent);
    const counter = vortex.observe("noop.Counter", { name: "inflight" });
    const watching = counter.subscribe();
    try {
      await next(counter, (tuples) => tuples[0]?.value === 0);

      await stack.signalClient("SIGSTOP");
      const frozenAt = Date.now();
      const bump = vortex.action(Bump.make({ name: "inflight", by: 1 }), { id: "inflight-1", timeout: 60 });
      await next(vortex.state$, (state) => state === "reconnecting", 5000);
      // The service's heartbeat is 0.5 s: a silent socket counts as dead after 0.75 s.
      assert.ok(Date.now() - frozenAt < 3000, `dead peer noticed after ${Date.now() - frozenAt} ms`);
      assert.equal(acts(sent, "inflight-1"), 1);

      await stack.signalClient("SIGKILL");
      await stack.startClient();
      const [reply] = await bump;
      assert.equal(reply?.value, 1);
      assert.equal(acts(sent, "inflight-1"), 2, "resent once, with the same id");
      await next(counter, (tuples) => tuples[0]?.value === 1);
      const subs = sent.filter((h) => h.t === "sub" && (h.selector as { name?: string }).name === "inflight");
      assert.equal(subs.length, 2, "resubscribed on the new socket");
      const [later] = await vortex.action(Bump.make({ name: "inflight", by: 10 }));
      assert.equal(later?.value, 11, "the resent action ran once");
    } finally {
      watching.unsubscribe();
    }
  });

  test("a session the restarted service kept stays logged in without credentials", async () => {
    const vortex = new VortexClient({
      url: stack.url,
      tuples: NOOP_TUPLES,
      webSocket: recordingSockets(),
      store: "kept",
      backoff: { initial: 0.1, max: 1 },
      relogin: false,
    });
    clients.push(vortex);
    await vortex.login(stack.username, stack.password);
    await next(vortex.state$, (state) => state === "online");
    await stack.signalClient("SIGKILL");
    await next(vortex.state$, (state) => state === "reconnecting");
    await stack.startClient();
    await next(vortex.state$, (state) => state === "online", 20_000);
    assert.equal(await next(vortex.user$, () => true), stack.username);
    const answer = await vortex.action(Bump.make({ name: "kept" }));
    assert.equal(answer.length, 1, "an action that needs a login is answered");
  });

  test("a session the restarted service lost turns anonymous when no credentials are kept", async () => {
    const vortex = new VortexClient({
      url: stack.url,
      tuples: NOOP_TUPLES,
      webSocket: recordingSockets(),
      store: "forgotten",
      backoff: { initial: 0.1, max: 1 },
      relogin: false,
    });
    clients.push(vortex);
    await vortex.login(stack.username, stack.password);
    await next(vortex.user$, (user) => user === stack.username);
    await stack.signalClient("SIGKILL");
    // The client's kept sessions are gone (a new data dir, a restored backup, ...).
    const kept = join(stack.dir, "data", "client", "browser-sessions.sqlite3");
    for (const suffix of ["", "-wal", "-shm"]) await rm(kept + suffix, { force: true });
    await stack.startClient();
    assert.equal(await next(vortex.user$, (user) => user === null, 20_000), null);
    await next(vortex.state$, (state) => state === "online");
    const error = await vortex.action(Bump.make({ name: "forgotten" })).then(
      () => assert.fail("answered"),
      (exc: unknown) => exc as VortexError,
    );
    assert.equal(error.code, "unauthenticated");
  });

  test("an action unanswered within its timeout rejects with timeout", async () => {
    const vortex = await loggedIn("timeout");
    await stack.signalClient("SIGSTOP");
    try {
      const started = Date.now();
      const error = await vortex.action(Bump.make({ name: "timeout" }), { timeout: 0.3 }).then(
        () => assert.fail("answered"),
        (exc: unknown) => exc as VortexError,
      );
      assert.equal(error.code, "timeout");
      assert.ok(Date.now() - started < 2000);
    } finally {
      await stack.signalClient("SIGCONT");
    }
    await next(vortex.state$, (state) => state === "online", 15_000);
  });

  test("actions made offline are sent once each, in order, after reconnecting", async () => {
    const sent: Header[] = [];
    const vortex = await loggedIn("queue", sent);
    await stack.signalClient("SIGKILL");
    await next(vortex.state$, (state) => state === "reconnecting");

    const bumps = [1, 10, 100].map((by, i) => vortex.action(Bump.make({ name: "queue", by }), { id: `queue-${i}` }));
    await until("three queued actions in IndexedDB", async () => (await queued("queue")) === 3, 5000);
    assert.equal(sent.filter((h) => h.t === "act").length, 0, "nothing sent while offline");

    await stack.startClient();
    const values = (await Promise.all(bumps)).map((reply) => reply[0]?.value);
    assert.deepEqual(values, [1, 11, 111], "processed in the order they were made");
    const order = sent.filter((h) => h.t === "act").map((h) => h.id);
    assert.deepEqual(order, ["queue-0", "queue-1", "queue-2"], "each sent once, in order");
    assert.equal(await queued("queue"), 0);
  });

  test("queued actions survive a reload and are sent by the next page", async () => {
    const before = await loggedIn("reload");
    await stack.signalClient("SIGKILL");
    await next(before.state$, (state) => state === "reconnecting");
    const lost = before.action(Bump.make({ name: "reload", by: 5 }), { id: "reload-1" });
    await until("the queued action in IndexedDB", async () => (await queued("reload")) === 1, 5000);
    await before.close(); // the page goes away
    await assert.rejects(lost, (exc: unknown) => exc instanceof VortexError && exc.code === "closed");

    await stack.startClient();
    const sent: Header[] = [];
    const page = client("reload", sent);
    const answered: Promise<ActionAnswer> = next(page.answers$, (answer) => answer.id === "reload-1");
    await page.login(stack.username, stack.password);
    const answer = await answered;
    assert.equal(answer.tuples?.[0]?.value, 5);
    assert.equal(acts(sent, "reload-1"), 1);
    assert.equal(await queued("reload"), 0);
  });

  test("observed data is served from IndexedDB while the service is down", async () => {
    const first = await loggedIn("cache");
    await first.action(Bump.make({ name: "cache", by: 3 }));
    await next(first.observe("noop.Counter", { name: "cache" }), (tuples) => tuples[0]?.value === 3);
    await until("the cache write", async () => {
      const store = await IndexedDbStore.open("cache");
      try {
        return (await store.cached(stack.username, selectorId("noop.Counter", { name: "cache" }))) !== undefined;
      } finally {
        store.close();
      }
    });
    await first.close();
    await stack.signalClient("SIGKILL");

    // A new page, offline: no login possible, the last user's cache is served.
    const page = client("cache");
    page.connect();
    const [cached] = await next(page.observe("noop.Counter", { name: "cache" }));
    assert.equal(cached?.value, 3);
    assert.notEqual(page.state, "online");
  });
});
