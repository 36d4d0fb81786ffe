/**
 * @peek/vortex: the browser client of Peek's vortex (live data and actions).
 * PROTOCOL.md in peek_src/peek/vortex/ is the wire format it speaks.
 */

export {
  ACTION_PATH,
  CONTENT_TYPE,
  LOGIN_PATH,
  LOGOUT_PATH,
  VortexClient,
  WS_PATH,
  selectorId,
  type ActionAnswer,
  type ActionOptions,
  type ConnectionState,
  type Selector,
  type VortexClientOptions,
  type WebSocketFactory,
  type WebSocketLike,
} from "./client.js";
export { LoginError, VortexError, type VortexErrorCode } from "./errors.js";
export {
  DEFAULT_COMPRESS_OVER,
  DEFAULT_MAX_FRAME,
  FLAG_COMPRESSED,
  MAGIC,
  decodeFrame,
  encodeFrame,
  framePayload,
  type Frame,
  type Header,
} from "./frame.js";
export { IndexedDbStore, MemoryStore, type QueuedAction, type VortexStore } from "./store.js";
export {
  Instant,
  TAG_FIELD,
  TupleRegistry,
  decodeValue,
  defineTuple,
  encodeValue,
  type AnyTuple,
  type FieldType,
  type FieldValue,
  type Fields,
  type ScalarField,
  type TupleInput,
  type TupleOf,
  type TupleType,
  type TupleValue,
} from "./tuples.js";
