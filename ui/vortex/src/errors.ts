/**
 * Typed errors of the vortex client. Every error carries a `code`: the
 * protocol's error codes (PROTOCOL.md, "Error codes") for answers from the
 * client service, and a few local ones.
 */

/** Codes the client service sends (PROTOCOL.md) and the local ones below. */
export type VortexErrorCode =
  | "malformed"
  | "truncated"
  | "too_large"
  | "unknown_tuple"
  | "unauthenticated"
  | "forbidden"
  | "no_handler"
  | "conflict"
  | "busy"
  | "timeout"
  | "failed"
  | "indeterminate"
  | "unavailable"
  // local: the client was closed, or the user logged out, before an answer
  | "closed"
  // local: a tuple does not match its registered fields
  | "invalid_tuple";

/** Base of every error this package raises; `code` says what went wrong. */
export class VortexError extends Error {
  readonly code: string;

  constructor(code: VortexErrorCode | (string & {}), message: string) {
    super(`${code}: ${message}`);
    this.name = "VortexError";
    this.code = code;
  }
}

/**
 * A login was not accepted: `refused` (401), `throttled` (429: too many failed
 * logins for this name or from this address; `retryAfter` says how many seconds
 * to wait), `unavailable` (503) or `unreachable`.
 */
export class LoginError extends VortexError {
  readonly status: number | null;
  readonly retryAfter: number | null;

  constructor(
    code: "refused" | "throttled" | "unavailable" | "unreachable",
    message: string,
    status: number | null,
    retryAfter: number | null = null,
  ) {
    super(code, message);
    this.name = "LoginError";
    this.status = status;
    this.retryAfter = retryAfter;
  }
}
