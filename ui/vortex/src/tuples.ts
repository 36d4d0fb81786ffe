/**
 * Tuples: the typed data the vortex moves, declared on this side by name and
 * fields so that they encode to the very bytes Python's msgspec writes
 * (PROTOCOL.md, "Tuples (the body)").
 *
 * ```ts
 * const Counter = defineTuple("noop.Counter", { name: "str", value: "int", updated: "datetime" });
 * type Counter = TupleOf<typeof Counter>;
 * ```
 *
 * Field types and their JavaScript values:
 *
 * | field | value |
 * |---|---|
 * | `str`, `bool`, `none` | string, boolean, null |
 * | `int` | number (bigint outside ±2^53) |
 * | `float` | number (always sent as float64, like Python, even when whole) |
 * | `datetime` | {@link Instant} (a `Date` is accepted when sending) |
 * | `date` | string `YYYY-MM-DD` |
 * | `decimal` | string, e.g. `"12.30"` (kept exactly; use a decimal library to compute) |
 * | `bytes` | Uint8Array |
 * | `{ list: T }`, `{ dict: T }` | arrays, plain objects with string keys |
 * | `{ optional: T }` | the value or null |
 * | `{ tuple: "plugin.Name" }` | a nested tuple (a list of names for a union) |
 * | `any` | whatever MessagePack holds |
 */

import {
  Decoder,
  Encoder,
  ExtensionCodec,
  decodeTimestampToTimeSpec,
  encodeTimeSpecToTimestamp,
} from "@msgpack/msgpack";

import { VortexError } from "./errors.js";

/** The field of a tuple that holds its name (`<plugin>.<Name>`). */
export const TAG_FIELD = "_t";

const NANOS_PER_SECOND = 1_000_000_000;

/**
 * A point in time with nanosecond precision: what a Python `AwareDatetime`
 * field decodes to (a `Date` would drop the microseconds). Sent as the
 * MessagePack timestamp extension, i.e. UTC.
 */
export class Instant {
  readonly seconds: number;
  readonly nanoseconds: number;

  constructor(seconds: number, nanoseconds = 0) {
    if (
      !Number.isSafeInteger(seconds) ||
      !Number.isInteger(nanoseconds) ||
      nanoseconds < 0 ||
      nanoseconds >= NANOS_PER_SECOND
    ) {
      throw new RangeError(`not an instant: ${seconds}s ${nanoseconds}ns`);
    }
    this.seconds = seconds;
    this.nanoseconds = nanoseconds;
  }

  static fromDate(date: Date): Instant {
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new RangeError("an invalid Date is not an instant");
    const seconds = Math.floor(ms / 1000);
    return new Instant(seconds, (ms - seconds * 1000) * 1_000_000);
  }

  static now(): Instant {
    return Instant.fromDate(new Date());
  }

  /** As a `Date`: precision drops to milliseconds. */
  toDate(): Date {
    return new Date(this.seconds * 1000 + Math.floor(this.nanoseconds / 1_000_000));
  }

  /** ISO 8601 in UTC with as many fraction digits as needed (3, 6 or 9). */
  toISOString(): string {
    const base = new Date(this.seconds * 1000).toISOString().slice(0, 19);
    let fraction = String(this.nanoseconds).padStart(9, "0");
    while (fraction.length > 3 && fraction.endsWith("000")) fraction = fraction.slice(0, -3);
    return `${base}.${fraction}Z`;
  }

  equals(other: Instant): boolean {
    return this.seconds === other.seconds && this.nanoseconds === other.nanoseconds;
  }

  toJSON(): string {
    return this.toISOString();
  }
}

export type ScalarField = "str" | "int" | "float" | "bool" | "datetime" | "date" | "decimal" | "bytes" | "none" | "any";

export type FieldType =
  | ScalarField
  | { readonly list: FieldType }
  | { readonly dict: FieldType }
  | { readonly optional: FieldType }
  | { readonly tuple: string | readonly string[] };

export type Fields = { readonly [field: string]: FieldType };

/** The JavaScript value of a field of type `F` (`D`: the datetime type). */
export type FieldValue<F, D = Instant> = F extends "str" | "date" | "decimal"
  ? string
  : F extends "int"
    ? number | bigint
    : F extends "float"
      ? number
      : F extends "bool"
        ? boolean
        : F extends "datetime"
          ? D
          : F extends "bytes"
            ? Uint8Array
            : F extends "none"
              ? null
              : F extends { readonly list: infer I }
                ? FieldValue<I, D>[]
                : F extends { readonly dict: infer I }
                  ? { [key: string]: FieldValue<I, D> }
                  : F extends { readonly optional: infer I }
                    ? FieldValue<I, D> | null
                    : F extends { readonly tuple: string | readonly string[] }
                      ? AnyTuple
                      : unknown;

/** Any tuple: its name under `_t` and its fields. */
export interface AnyTuple {
  readonly _t: string;
  readonly [field: string]: unknown;
}

/** A decoded tuple of name `N` and fields `F` (fields the sender left out are absent). */
export type TupleValue<N extends string, F extends Fields> = { readonly _t: N } & {
  -readonly [K in keyof F]: FieldValue<F[K]>;
};

/** What `make` takes: any subset of the fields (the others take Python's defaults). */
export type TupleInput<F extends Fields> = { [K in keyof F]?: FieldValue<F[K], Instant | Date> };

/** A declared tuple type: its name, its fields in Python's declaration order. */
export interface TupleType<N extends string = string, F extends Fields = Fields> {
  readonly name: N;
  readonly fields: F;
  /** A tuple of this type, ready for `action()`. */
  make(values?: TupleInput<F>): { readonly _t: N } & TupleInput<F>;
  /** Whether `value` is a tuple of this type. */
  is(value: unknown): value is TupleValue<N, F>;
}

/** The decoded value type of a declared tuple type. */
export type TupleOf<T> = T extends TupleType<infer N, infer F> ? TupleValue<N, F> : never;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Declare a tuple type. List the fields in the order the Python class declares
 * them: that order is the order of the bytes on the wire.
 */
export function defineTuple<const N extends string, const F extends Fields>(name: N, fields: F): TupleType<N, F> {
  if (!NAME.test(name)) throw new TypeError(`a tuple name is '<plugin>.<Name>', not ${JSON.stringify(name)}`);
  if (TAG_FIELD in fields) throw new TypeError(`${name}: '${TAG_FIELD}' is not a field name`);
  return Object.freeze({
    name,
    fields,
    make(values?: TupleInput<F>) {
      return { [TAG_FIELD]: name, ...values } as { readonly _t: N } & TupleInput<F>;
    },
    is(value: unknown): value is TupleValue<N, F> {
      return isPlainObject(value) && value[TAG_FIELD] === name;
    },
  });
}

// -- MessagePack ----------------------------------------------------------

const extensions = new ExtensionCodec();
extensions.register({
  type: -1, // the timestamp extension; replaces the library's Date mapping with Instant
  encode(value: unknown): Uint8Array | null {
    const instant = value instanceof Date ? Instant.fromDate(value) : value;
    if (!(instant instanceof Instant)) return null;
    return encodeTimeSpecToTimestamp({ sec: instant.seconds, nsec: instant.nanoseconds });
  },
  decode(data: Uint8Array): Instant {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    return new Instant(sec, nsec);
  },
});

// Without useBigInt64 the library writes safe integers past 2^32 as (u)int64, like
// msgspec; with it, as floats. So bigints (int fields only) get their own encoder.
const scalarEncoder = new Encoder({ extensionCodec: extensions });
const bigintEncoder = new Encoder({ useBigInt64: true });
// msgspec writes every float as float64, whole ones too; JavaScript cannot tell
// 1.0 from 1, so float fields use an encoder that never writes an int.
const floatEncoder = new Encoder({ forceIntegerToFloat: true });
const decoder = new Decoder({ extensionCodec: extensions, useBigInt64: true });

/** Encode any MessagePack value (headers, selectors, `any` fields; no bigint there). */
export function encodeValue(value: unknown): Uint8Array {
  return scalarEncoder.encode(value);
}

/** Decode one MessagePack value; ints outside ±2^53 stay bigint, timestamps become Instant. */
export function decodeValue(data: Uint8Array): unknown {
  return normalize(decoder.decode(data));
}

function normalize(value: unknown): unknown {
  if (typeof value === "bigint") return toNumber(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (isPlainObject(value)) {
    for (const key of Object.keys(value)) value[key] = normalize(value[key]);
  }
  return value;
}

function toNumber(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

// Container headers are written here, every value inside them by the library:
// this is what lets a whole float be written as float64 (see floatEncoder).
function containerHeader(fix: number, tag16: number, size: number): Uint8Array {
  if (size < 16) return Uint8Array.of(fix | size);
  if (size < 0x10000) return Uint8Array.of(tag16, size >> 8, size & 0xff);
  return Uint8Array.of(tag16 + 1, size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff);
}
const arrayHeader = (size: number): Uint8Array => containerHeader(0x90, 0xdc, size);
const mapHeader = (size: number): Uint8Array => containerHeader(0x80, 0xde, size);

function join(chunks: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const chunk of chunks) size += chunk.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The tuple types one client knows, by name; unknown names are refused both ways. */
export class TupleRegistry {
  private readonly types = new Map<string, TupleType>();

  constructor(types: Iterable<TupleType> = []) {
    for (const type of types) this.register(type);
  }

  /**
   * Add a tuple type. Declaring a name again with the same fields (a module
   * loaded twice) is harmless; with other fields it is a TypeError.
   */
  register(type: TupleType): void {
    const known = this.types.get(type.name);
    if (known === undefined) this.types.set(type.name, type);
    else if (known !== type && JSON.stringify(known.fields) !== JSON.stringify(type.fields)) {
      throw new TypeError(`tuple ${type.name} is declared already, with other fields`);
    }
  }

  get(name: string): TupleType | undefined {
    return this.types.get(name);
  }

  /** The payload (an uncompressed MessagePack array) of `tuples`. */
  encode(tuples: readonly AnyTuple[]): Uint8Array {
    const chunks: Uint8Array[] = [arrayHeader(tuples.length)];
    tuples.forEach((tuple, i) => this.encodeTuple(tuple, `[${i}]`, chunks, null));
    return join(chunks);
  }

  /** The tuples of a payload; VortexError `unknown_tuple` or `malformed`. */
  decode(payload: Uint8Array): AnyTuple[] {
    let raw: unknown;
    try {
      raw = decoder.decode(payload);
    } catch (exc) {
      throw new VortexError("malformed", `payload is not MessagePack: ${String(exc)}`);
    }
    if (!Array.isArray(raw)) throw new VortexError("malformed", "a payload is an array of tuples");
    return raw.map((item, i) => this.decodeTuple(item, `[${i}]`, null));
  }

  private typeOf(value: unknown, path: string, allowed: readonly string[] | null, unknownCode: string): TupleType {
    const name = isPlainObject(value) ? value[TAG_FIELD] : undefined;
    if (typeof name !== "string")
      throw new VortexError(
        unknownCode === "unknown_tuple" ? "malformed" : unknownCode,
        `${path}: not a tuple (no '${TAG_FIELD}')`,
      );
    const type = this.types.get(name);
    if (type === undefined)
      throw new VortexError(unknownCode, `${path}: unknown tuple ${JSON.stringify(name)}: declare it with defineTuple`);
    if (allowed !== null && !allowed.includes(name))
      throw new VortexError(
        unknownCode === "unknown_tuple" ? "malformed" : unknownCode,
        `${path}: ${name} is not one of ${allowed.join(", ")}`,
      );
    return type;
  }

  private encodeTuple(tuple: unknown, path: string, out: Uint8Array[], allowed: readonly string[] | null): void {
    const type = this.typeOf(tuple, path, allowed, "invalid_tuple");
    const value = tuple as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      if (key !== TAG_FIELD && !(key in type.fields))
        throw new VortexError("invalid_tuple", `${path}: ${type.name} has no field ${JSON.stringify(key)}`);
    }
    const present = Object.keys(type.fields).filter((key) => value[key] !== undefined);
    out.push(mapHeader(present.length + 1), encodeValue(TAG_FIELD), encodeValue(type.name));
    for (const key of present) {
      out.push(encodeValue(key));
      this.encodeField(value[key], type.fields[key] as FieldType, `${path}.${key}`, out);
    }
  }

  private encodeField(value: unknown, type: FieldType, path: string, out: Uint8Array[]): void {
    const wrong = (what: string): VortexError =>
      new VortexError("invalid_tuple", `${path}: expected ${what}, got ${describe(value)}`);
    if (typeof type === "string") {
      switch (type) {
        case "str":
          if (typeof value !== "string") throw wrong("a string");
          break;
        case "int":
          if (typeof value === "bigint") {
            const small = toNumber(value);
            out.push(typeof small === "bigint" ? bigintEncoder.encode(small) : encodeValue(small));
            return;
          }
          if (typeof value !== "number" || !Number.isSafeInteger(value)) throw wrong("an integer (a bigint past 2^53)");
          break;
        case "float":
          if (typeof value !== "number") throw wrong("a number");
          out.push(floatEncoder.encode(value));
          return;
        case "bool":
          if (typeof value !== "boolean") throw wrong("a boolean");
          break;
        case "datetime":
          if (!(value instanceof Instant) && !(value instanceof Date && !Number.isNaN(value.getTime())))
            throw wrong("an Instant or a Date");
          break;
        case "date":
          if (typeof value !== "string" || !DATE.test(value)) throw wrong("a date string YYYY-MM-DD");
          break;
        case "decimal":
          if (typeof value !== "string") throw wrong("a decimal string");
          break;
        case "bytes":
          if (!(value instanceof Uint8Array)) throw wrong("a Uint8Array");
          break;
        case "none":
          if (value !== null) throw wrong("null");
          break;
        case "any":
          break;
      }
      out.push(encodeValue(value));
    } else if ("optional" in type) {
      if (value === null) out.push(encodeValue(null));
      else this.encodeField(value, type.optional, path, out);
    } else if ("list" in type) {
      if (!Array.isArray(value)) throw wrong("an array");
      out.push(arrayHeader(value.length));
      value.forEach((item, i) => this.encodeField(item, type.list, `${path}[${i}]`, out));
    } else if ("dict" in type) {
      if (!isPlainObject(value)) throw wrong("a plain object");
      const keys = Object.keys(value);
      out.push(mapHeader(keys.length));
      for (const key of keys) {
        out.push(encodeValue(key));
        this.encodeField(value[key], type.dict, `${path}.${key}`, out);
      }
    } else {
      this.encodeTuple(value, path, out, typeof type.tuple === "string" ? [type.tuple] : type.tuple);
    }
  }

  private decodeTuple(raw: unknown, path: string, allowed: readonly string[] | null): AnyTuple {
    const type = this.typeOf(raw, path, allowed, "unknown_tuple");
    const value = raw as Record<string, unknown>;
    for (const [key, field] of Object.entries(type.fields)) {
      if (key in value) value[key] = this.decodeField(value[key], field, `${path}.${key}`);
    }
    return value as AnyTuple;
  }

  private decodeField(value: unknown, type: FieldType, path: string): unknown {
    const wrong = (what: string): VortexError =>
      new VortexError("malformed", `${path}: expected ${what}, got ${describe(value)}`);
    if (typeof type === "string") {
      const ok: Record<ScalarField, boolean> = {
        str: typeof value === "string",
        date: typeof value === "string",
        decimal: typeof value === "string",
        int: typeof value === "number" || typeof value === "bigint",
        float: typeof value === "number",
        bool: typeof value === "boolean",
        datetime: value instanceof Instant,
        bytes: value instanceof Uint8Array,
        none: value === null,
        any: true,
      };
      if (!ok[type]) throw wrong(type);
      return normalize(value);
    }
    if ("optional" in type) return value === null ? null : this.decodeField(value, type.optional, path);
    if ("list" in type) {
      if (!Array.isArray(value)) throw wrong("an array");
      return value.map((item, i) => this.decodeField(item, type.list, `${path}[${i}]`));
    }
    if ("dict" in type) {
      if (!isPlainObject(value)) throw wrong("a map");
      for (const key of Object.keys(value)) value[key] = this.decodeField(value[key], type.dict, `${path}.${key}`);
      return value;
    }
    return this.decodeTuple(value, path, typeof type.tuple === "string" ? [type.tuple] : type.tuple);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    default:
      return `a ${typeof value}`;
  }
}
