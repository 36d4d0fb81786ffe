/**
 * The codec against Python's: frames made by peek.vortex (via test/peek_stack.py,
 * at test time) must come out of the TypeScript encoder byte for byte, decode
 * here to the same values, and the TypeScript frames must decode in Python to
 * exactly Python's tuples.
 */

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import {
  defineTuple,
  Instant,
  TupleRegistry,
  VortexError,
  decodeFrame,
  encodeFrame,
  encodeValue,
  framePayload,
  type AnyTuple,
  type Header,
} from "../src/index.js";
import { helper } from "./stack.js";
import { Bump, Counter, Echo, NOOP_TUPLES, Note } from "./tuples.js";

const registry = new TupleRegistry(NOOP_TUPLES);
const utc = (...parts: [number, number, number, number?, number?, number?]): number => Date.UTC(...parts) / 1000;

function echo(values: Record<string, unknown>): AnyTuple {
  return {
    _t: "noop.Echo",
    text: "",
    number: 0,
    ratio: 0,
    flag: false,
    when: null,
    day: null,
    amount: null,
    raw: new Uint8Array(0),
    items: [],
    table: {},
    note: null,
    notes: [],
    nothing: null,
    ...values,
  };
}

const note = (text: string): AnyTuple => ({ _t: "noop.Note", text });

// The same values as FIXTURES in test/peek_stack.py.
const FIXTURES: Record<string, { header: Header; tuples: AnyTuple[]; compressOver: number | null }> = {
  echo_every_field: {
    header: { t: "act", id: "fixture-1", key: "noop.Echo", timeout: 5 },
    tuples: [
      echo({
        text: "héllo ✓ 𝄞",
        number: 2 ** 40,
        ratio: 1.0,
        flag: true,
        when: new Instant(utc(2024, 1, 29, 23, 59, 58), 123_456_000),
        day: "2024-02-29",
        amount: "12.30",
        raw: Uint8Array.from({ length: 256 }, (_, i) => i),
        items: [0, -1, 127, 128, -33, 65535, -(2 ** 31)],
        table: { a: "b", ü: "" },
        note: note("nested"),
        notes: [note("x"), note("y")],
        nothing: null,
      }),
    ],
    compressOver: null,
  },
  echo_defaults: { header: { t: "reply", id: "fixture-2" }, tuples: [echo({})], compressOver: null },
  echo_edges: {
    header: { t: "reply", id: "fixture-3" },
    tuples: [
      echo({ number: 9223372036854775807n, ratio: -0.1, items: [-9223372036854775808n, 9007199254740993n] }),
      echo({ when: new Instant(utc(1969, 6, 20, 20, 17, 40), 1000) }),
      echo({ when: new Instant(utc(2600, 0, 1)) }),
      echo({ when: new Instant(utc(2000, 0, 1)), amount: "-1E+3" }),
    ],
    compressOver: null,
  },
  counter_data: {
    header: { t: "data", plugin: "noop", key: "noop.Counter", selector: { name: "a" }, anon: true },
    tuples: [{ _t: "noop.Counter", name: "a", value: 3, updated: new Instant(utc(2024, 0, 1)) }],
    compressOver: null,
  },
  compressed_notes: {
    header: { t: "reply", id: "fixture-4" },
    tuples: Array.from({ length: 200 }, (_, i) => note(`note ${i} `.repeat(4))),
    compressOver: 1024,
  },
};

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));
const encodeFixture = (name: string): Uint8Array => {
  const fixture = FIXTURES[name];
  assert.ok(fixture);
  return encodeFrame(fixture.header, registry.encode(fixture.tuples), fixture.compressOver);
};

function rejects(code: string, run: () => unknown): void {
  assert.throws(run, (exc: unknown) => exc instanceof VortexError && exc.code === code);
}

describe("the codec against Python's", () => {
  let python: { fixtures: Record<string, string>; decoded: Record<string, { equal: boolean; compressed: boolean }> };

  before(async () => {
    const frames = Object.fromEntries(Object.keys(FIXTURES).map((name) => [name, hex(encodeFixture(name))]));
    python = (await helper(["codec"], JSON.stringify({ frames }))) as typeof python;
  });

  test("uncompressed frames are the same bytes as Python's", () => {
    for (const [name, fixture] of Object.entries(FIXTURES)) {
      if (fixture.compressOver !== null) continue;
      assert.equal(hex(encodeFixture(name)), python.fixtures[name], name);
    }
  });

  test("Python's frames decode to the same headers and values", () => {
    for (const [name, fixture] of Object.entries(FIXTURES)) {
      const frame = decodeFrame(unhex(python.fixtures[name] ?? ""));
      assert.deepEqual(frame.header, fixture.header, name);
      assert.deepEqual(registry.decode(framePayload(frame)), fixture.tuples, name);
    }
  });

  test("Python decodes every TypeScript frame, compressed too, to exactly its own tuples", () => {
    for (const name of Object.keys(FIXTURES)) assert.equal(python.decoded[name]?.equal, true, name);
    assert.equal(python.decoded.compressed_notes?.compressed, true);
  });

  test("a whole float is sent as float64 and ints past 2^53 as bigint", () => {
    const [tuple] = registry.decode(framePayload(decodeFrame(unhex(python.fixtures.echo_edges ?? ""))));
    assert.equal(tuple?.number, 9223372036854775807n);
    const payload = registry.encode([Echo.make({ ratio: 2 })]);
    assert.ok(hex(payload).includes("cb4000000000000000"), "2.0 as float64");
  });
});

describe("instants", () => {
  test("keep nanoseconds, which a Date cannot", () => {
    const instant = new Instant(utc(2024, 1, 29, 23, 59, 58), 123_456_000);
    assert.equal(instant.toISOString(), "2024-02-29T23:59:58.123456Z");
    assert.equal(instant.toDate().toISOString(), "2024-02-29T23:59:58.123Z");
    assert.deepEqual(Instant.fromDate(new Date("1969-12-31T23:59:59.999Z")), new Instant(-1, 999_000_000));
  });

  test("refuse nanoseconds out of range", () => {
    assert.throws(() => new Instant(0, 1_000_000_000), RangeError);
  });

  test("a Date is accepted for a datetime field", () => {
    const [counter] = registry.decode(
      registry.encode([Counter.make({ name: "a", value: 1, updated: new Date(1500) })]),
    );
    assert.deepEqual(counter?.updated, new Instant(1, 500_000_000));
  });
});

describe("bad frames are refused with the protocol's codes", () => {
  const good = encodeFrame({ t: "ping" });

  test("shorter than the prefix: truncated", () => rejects("truncated", () => decodeFrame(good.subarray(0, 3))));
  test("header cut short: truncated", () => rejects("truncated", () => decodeFrame(good.subarray(0, good.length - 1))));
  test("bad magic: malformed", () => rejects("malformed", () => decodeFrame(Uint8Array.of(0x00, ...good.subarray(1)))));
  test("unknown flags: malformed", () =>
    rejects("malformed", () => decodeFrame(Uint8Array.of(0xa7, 0x02, ...good.subarray(2)))));
  test("a header that is not a map: malformed", () => {
    const head = encodeValue([1, 2]);
    rejects("malformed", () => decodeFrame(Uint8Array.of(0xa7, 0, 0, head.length, ...head)));
  });
  test("over the size limit: too_large", () => rejects("too_large", () => decodeFrame(good, good.length - 1)));

  test("a compressed body cut short: truncated", () => {
    const frame = decodeFrame(encodeFixture("compressed_notes"));
    assert.equal(frame.flags, 1);
    rejects("truncated", () => framePayload({ ...frame, body: frame.body.subarray(0, frame.body.length - 20) }));
  });

  test("a body that inflates past the limit: too_large", () => {
    const frame = decodeFrame(encodeFixture("compressed_notes"));
    rejects("too_large", () => framePayload(frame, 1000));
  });

  test("a tuple name nobody declared: unknown_tuple", () => {
    rejects("unknown_tuple", () => registry.decode(encodeValue([{ _t: "noop.Missing" }])));
  });

  test("a field of the wrong type: malformed", () => {
    rejects("malformed", () => registry.decode(encodeValue([{ _t: "noop.Note", text: 5 }])));
  });

  test("a payload that is not an array: malformed", () => {
    rejects("malformed", () => registry.decode(encodeValue({ _t: "noop.Note" })));
  });
});

describe("tuples that cannot be sent are refused before sending", () => {
  test("a wrong field type", () =>
    rejects("invalid_tuple", () => registry.encode([Bump.make({ name: 1 as unknown as string })])));
  test("a field the type does not have", () =>
    rejects("invalid_tuple", () => registry.encode([{ _t: "noop.Bump", name: "a", bye: 1 }])));
  test("an undeclared tuple type", () => rejects("invalid_tuple", () => registry.encode([{ _t: "noop.Missing" }])));
  test("an int past 2^53 given as a number", () =>
    rejects("invalid_tuple", () => registry.encode([Bump.make({ name: "a", by: 2 ** 60 })])));
  test("a nested tuple of another type", () =>
    rejects("invalid_tuple", () => registry.encode([Echo.make({ note: Bump.make({ name: "a" }) })])));
  test("a date that is not YYYY-MM-DD", () =>
    rejects("invalid_tuple", () => registry.encode([Echo.make({ day: "29.2.2024" })])));
  test("declaring a name again is harmless with the same fields and refused with others", () => {
    const again = new TupleRegistry([Note]);
    again.register(defineTuple("noop.Note", { text: "str" }));
    assert.throws(() => again.register(defineTuple("noop.Note", { text: "int" })), TypeError);
  });
  test("declared fields keep their types", () => {
    const made = Note.make({ text: "t" });
    assert.deepEqual(made, { _t: "noop.Note", text: "t" });
    assert.ok(Note.is(made) && !Bump.is(made));
  });
});
