/** noop's tuples (peek_plugin_noop/tuples), declared for the TypeScript side. */

import { defineTuple } from "../src/index.js";

export const Counter = defineTuple("noop.Counter", { name: "str", value: "int", updated: "datetime" });
export const Bump = defineTuple("noop.Bump", { name: "str", by: "int" });
export const Note = defineTuple("noop.Note", { text: "str" });
export const Echo = defineTuple("noop.Echo", {
  text: "str",
  number: "int",
  ratio: "float",
  flag: "bool",
  when: { optional: "datetime" },
  day: { optional: "date" },
  amount: { optional: "decimal" },
  raw: "bytes",
  items: { list: "int" },
  table: { dict: "str" },
  note: { optional: { tuple: "noop.Note" } },
  notes: { list: { tuple: "noop.Note" } },
  nothing: "none",
});

export const NOOP_TUPLES = [Counter, Bump, Note, Echo];
