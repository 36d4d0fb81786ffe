import { MemoryStore, VortexClient, defineTuple } from "@peek/vortex";
import { describe, expect, it } from "vitest";

import { registerTuples } from "../src/sessions.js";

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
