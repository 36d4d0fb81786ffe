/**
 * The vortex frame (PROTOCOL.md, "Frame"): magic, flags, a MessagePack header
 * readable without touching the body, and a body of tuples, zlib-compressed
 * when large. zlib comes from fflate: synchronous, and the same in browsers
 * and node (CompressionStream is streams-only and async).
 */

import { unzlibSync, zlibSync } from "fflate";

import { VortexError } from "./errors.js";
import { decodeValue, encodeValue } from "./tuples.js";

export const MAGIC = 0xa7;
export const FLAG_COMPRESSED = 0x01;
export const MAX_HEADER = 16 * 1024;
/** The client service's default `vortex.max_frame`. */
export const DEFAULT_MAX_FRAME = 1 << 20;
/** The client service's default `vortex.compress_over`. */
export const DEFAULT_COMPRESS_OVER = 1024;

/** A frame header: `t` is the message type, the rest depends on it. */
export interface Header {
  readonly t: string;
  readonly [field: string]: unknown;
}

/** A decoded frame: its header, flags, the body as sent and the frame's bytes. */
export interface Frame {
  readonly header: Header;
  readonly flags: number;
  readonly body: Uint8Array;
  readonly data: Uint8Array;
}

/** Frame `header` and `body`; the body is compressed (zlib level 1) past `compressOver` bytes. */
export function encodeFrame(
  header: Header,
  body: Uint8Array = new Uint8Array(0),
  compressOver: number | null = null,
): Uint8Array {
  const head = encodeValue(header);
  if (head.length > MAX_HEADER) throw new VortexError("too_large", `header of ${head.length} bytes > ${MAX_HEADER}`);
  let flags = 0;
  if (compressOver !== null && body.length > compressOver) {
    body = zlibSync(body, { level: 1 });
    flags = FLAG_COMPRESSED;
  }
  const out = new Uint8Array(4 + head.length + body.length);
  out[0] = MAGIC;
  out[1] = flags;
  out[2] = head.length >> 8;
  out[3] = head.length & 0xff;
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out;
}

/** Parse a frame's prefix and header; VortexError `malformed`, `truncated` or `too_large`. */
export function decodeFrame(data: Uint8Array, maxSize: number = DEFAULT_MAX_FRAME): Frame {
  if (data.length > maxSize) throw new VortexError("too_large", `${data.length} bytes > ${maxSize}`);
  if (data.length < 4) throw new VortexError("truncated", `${data.length} bytes is shorter than the 4-byte prefix`);
  const magic = data[0] as number;
  const flags = data[1] as number;
  const headLength = ((data[2] as number) << 8) | (data[3] as number);
  if (magic !== MAGIC) throw new VortexError("malformed", `bad magic byte 0x${magic.toString(16).padStart(2, "0")}`);
  if (flags & ~FLAG_COMPRESSED)
    throw new VortexError("malformed", `unknown flags 0x${flags.toString(16).padStart(2, "0")}`);
  const end = 4 + headLength;
  if (headLength === 0 || end > data.length)
    throw new VortexError("truncated", `header of ${headLength} bytes, ${data.length - 4} present`);
  let header: unknown;
  try {
    header = decodeValue(data.subarray(4, end));
  } catch (exc) {
    throw new VortexError("malformed", `header is not MessagePack: ${String(exc)}`);
  }
  if (
    typeof header !== "object" ||
    header === null ||
    Array.isArray(header) ||
    typeof (header as { t?: unknown }).t !== "string"
  ) {
    throw new VortexError("malformed", 'header is not a map with a message type "t"');
  }
  return { header: header as Header, flags, body: data.subarray(end), data };
}

/** The body of `frame`, inflated if compressed; VortexError past `maxSize` or when cut short. */
export function framePayload(frame: Frame, maxSize: number = DEFAULT_MAX_FRAME): Uint8Array {
  if (!(frame.flags & FLAG_COMPRESSED)) {
    if (frame.body.length > maxSize)
      throw new VortexError("too_large", `body of ${frame.body.length} bytes > ${maxSize}`);
    return frame.body;
  }
  let out: Uint8Array;
  try {
    // fflate stops at the end of a given buffer: one byte more than allowed tells a bomb.
    out = unzlibSync(frame.body, { out: new Uint8Array(maxSize + 1) });
  } catch (exc) {
    const message = String(exc);
    // fflate says "unexpected EOF" for a stream that stops early.
    throw new VortexError(/EOF/i.test(message) ? "truncated" : "malformed", `body does not decompress: ${message}`);
  }
  if (out.length > maxSize) throw new VortexError("too_large", `body inflates past ${maxSize} bytes`);
  return out.slice(); // not a view that keeps the whole buffer alive
}
