/**
 * The browser side of the vortex: one WebSocket to the Peek client service
 * (`/vortex/ws`), observables of tuple selectors, actions with explicit
 * timeouts, and what keeps them working across outages: heartbeats, dead-peer
 * detection, reconnects with backoff and jitter, resubscription, resending of
 * unanswered actions, an offline cache of observed data and a durable queue of
 * actions made offline (see PROTOCOL.md for the wire format).
 */

import { BehaviorSubject, Observable, ReplaySubject, Subject, distinctUntilChanged } from "rxjs";

import { LoginError, VortexError } from "./errors.js";
import {
  DEFAULT_COMPRESS_OVER,
  DEFAULT_MAX_FRAME,
  decodeFrame,
  encodeFrame,
  framePayload,
  type Frame,
  type Header,
} from "./frame.js";
import { IndexedDbStore, MemoryStore, type VortexStore } from "./store.js";
import { TupleRegistry, type AnyTuple, type TupleType } from "./tuples.js";

export const WS_PATH = "/vortex/ws";
export const LOGIN_PATH = "/vortex/login";
export const LOGOUT_PATH = "/vortex/logout";
export const ACTION_PATH = "/vortex/action";
export const CONTENT_TYPE = "application/x-peek-vortex";

/**
 * - `online`: the socket is open and welcomed; subscriptions and actions flow.
 * - `reconnecting`: trying to (re)connect; observed data comes from the cache,
 *   actions are queued.
 * - `offline`: not trying: before `connect()`/`login()`, or after `close()`.
 *
 * A session the service no longer knows (it restarted, or the session
 * expired) is renewed with the credentials kept from `login()`; without them,
 * or if they are refused now, the client goes on anonymously and `user$`
 * turns null.
 */
export type ConnectionState = "offline" | "reconnecting" | "online";

/** A subscription's selector: a flat map of strings, integers, booleans and null. */
export type Selector = Readonly<Record<string, string | number | boolean | null>>;

/** The part of the WebSocket API the client uses (browsers' and the `ws` package's). */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Drop the connection without a closing handshake (the `ws` package has it). */
  terminate?(): void;
}

/**
 * Opens a socket to `url`. Browsers authenticate it with the `peek_session`
 * cookie that login set; elsewhere, send `Authorization: Bearer <session>`.
 */
export type WebSocketFactory = (url: string, session: string | null) => WebSocketLike;

export interface VortexClientOptions {
  /** Base URL of the Peek client service's user site; default: the page's origin. */
  readonly url?: string;
  /** The tuple types this application sends or receives (unknown ones are refused). */
  readonly tuples: Iterable<TupleType>;
  readonly webSocket?: WebSocketFactory;
  readonly fetch?: typeof fetch;
  /** IndexedDB database name (default `peek-vortex`), or a store of your own. */
  readonly store?: string | VortexStore;
  /** Seconds between pings; default: what the client service says in `welcome`. */
  readonly heartbeat?: number;
  /** Seconds without any frame after which the connection counts as dead; default 1.5 x heartbeat. */
  readonly deadAfter?: number;
  /** Seconds to wait for a socket's `welcome` (default 10). */
  readonly connectTimeout?: number;
  /** Reconnect delays in seconds: the first, doubled per failure up to `max`, with jitter (0.5, 30). */
  readonly backoff?: { readonly initial: number; readonly max: number };
  /** Default action timeout in seconds (30). */
  readonly actionTimeout?: number;
  /**
   * Keep the credentials of `login()` in memory (never stored) to log in again
   * when the client service no longer knows the session. Default true. Apps that
   * must honour a logout elsewhere or an expiry (the Peek shells) pass false:
   * `user$` turns null and the app asks for a login.
   */
  readonly relogin?: boolean;
  readonly maxFrame?: number;
  readonly compressOver?: number;
}

export interface ActionOptions {
  /** Seconds to wait for the answer once sent (the server bounds the processor's run by it too). */
  readonly timeout?: number;
  /** The action id (1-128 characters); default 128 random bits. Reuse it only to resend the same action. */
  readonly id?: string;
}

/** The answer to an action nobody awaits any more (queued by an earlier page). */
export interface ActionAnswer {
  readonly id: string;
  readonly tuples?: AnyTuple[];
  readonly error?: VortexError;
}

interface Pending {
  readonly id: string;
  readonly frame: Uint8Array;
  readonly timeout: number;
  queued: boolean;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  settle(result: { tuples: AnyTuple[] } | { error: VortexError }): void;
  readonly done: Promise<void>;
}

interface Watch {
  readonly key: string;
  readonly selector: Selector;
  readonly sid: string;
  readonly subject: ReplaySubject<AnyTuple[]>;
  refs: number;
  fresh: boolean;
}

interface Connection {
  readonly socket: WebSocketLike;
  readonly lost: Promise<void>;
  abort(): void;
}

const DEFAULT_HEARTBEAT = 10;

/** The selector's identity: key and the selector with sorted keys (PROTOCOL.md). */
export function selectorId(key: string, selector: Selector): string {
  const entries = Object.keys(selector)
    .sort()
    .map((name) => {
      const value = selector[name];
      const ok =
        value === null ||
        typeof value === "string" ||
        typeof value === "boolean" ||
        (typeof value === "number" && Number.isSafeInteger(value));
      if (!ok) throw new TypeError(`selector value ${name} must be a string, integer, boolean or null`);
      return [name, value];
    });
  return `${key}\x1f${JSON.stringify(entries)}`;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function asBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function errorOf(header: Header): VortexError {
  return new VortexError(
    typeof header.code === "string" ? header.code : "failed",
    typeof header.msg === "string" ? header.msg : "",
  );
}

/**
 * A connection to one Peek client service. Create one per application:
 *
 * ```ts
 * const vortex = new VortexClient({ tuples: [Counter, Bump] });
 * await vortex.login("alice", "secret");
 * vortex.observe("noop.Counter", { name: "a" }).subscribe((tuples) => render(tuples));
 * const [counter] = await vortex.action(Bump.make({ name: "a" }), { timeout: 10 });
 * ```
 */
export class VortexClient {
  /** The connection state; the current value first. */
  readonly state$: Observable<ConnectionState>;
  /** The logged-in user (null: anonymous); the current value first. */
  readonly user$: Observable<string | null>;
  /** Answers to queued actions whose promise is gone (made before a reload). */
  readonly answers$: Observable<ActionAnswer>;

  private readonly base: string;
  private readonly tuples: TupleRegistry;
  private readonly openSocket: WebSocketFactory;
  private readonly fetch: typeof fetch;
  private readonly options: VortexClientOptions;
  private readonly maxFrame: number;
  private readonly compressOver: number;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>("offline");
  private readonly userSubject = new BehaviorSubject<string | null>(null);
  private readonly answerSubject = new Subject<ActionAnswer>();
  private readonly ready: Promise<VortexStore>;
  private readonly watches = new Map<string, Watch>();
  private readonly pending = new Map<string, Pending>();
  private session: string | null = null;
  private credentials: { username: string; password: string } | null = null;
  private user: string | null = null;
  private connection: Connection | null = null;
  private running = false;
  private closed = false;
  private draining = false;
  private wake: (() => void) | null = null;

  constructor(options: VortexClientOptions) {
    this.options = options;
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    const base = options.url ?? origin;
    if (base === undefined) throw new TypeError("give the url of the Peek client service");
    this.base = base.replace(/\/+$/, "");
    this.tuples = new TupleRegistry(options.tuples);
    this.openSocket = options.webSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike);
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    this.compressOver = options.compressOver ?? DEFAULT_COMPRESS_OVER;
    this.state$ = this.stateSubject.pipe(distinctUntilChanged());
    this.user$ = this.userSubject.pipe(distinctUntilChanged());
    this.answers$ = this.answerSubject.asObservable();
    this.ready = this.openStore(options.store);
  }

  private async openStore(store: string | VortexStore | undefined): Promise<VortexStore> {
    let opened: VortexStore;
    if (typeof store === "object") opened = store;
    else if (typeof indexedDB === "undefined") opened = new MemoryStore();
    else {
      try {
        opened = await IndexedDbStore.open(store ?? "peek-vortex");
      } catch {
        opened = new MemoryStore(); // IndexedDB refused (private browsing, quota): work without persistence
      }
    }
    // Until a socket says otherwise, this is the last session's user: its cache is served offline.
    const last = await opened.lastUser();
    if (last !== undefined && this.session === null && this.userSubject.value === null) {
      this.user = last;
      this.userSubject.next(last);
    }
    return opened;
  }

  /**
   * Declare more tuple types after construction (e.g. a page's plugin module
   * brings its own). Same name and fields again is harmless; other fields throw.
   */
  registerTuples(...types: TupleType[]): void {
    for (const type of types) this.tuples.register(type);
  }

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  // -- login ---------------------------------------------------------------

  /** Log in (POST /vortex/login) and (re)connect as that user; the user name. Throws LoginError. */
  async login(username: string, password: string): Promise<string> {
    const store = await this.ready;
    const user = await this.postLogin(username, password);
    this.credentials = this.options.relogin === false ? null : { username, password };
    await this.becomeUser(store, user);
    this.restart();
    return user;
  }

  private async postLogin(username: string, password: string): Promise<string> {
    let response: Response;
    try {
      response = await this.fetch(this.base + LOGIN_PATH, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password }),
        credentials: "same-origin",
      });
    } catch (exc) {
      throw new LoginError("unreachable", `the client service cannot be reached: ${String(exc)}`, null);
    }
    if (response.status === 401) throw new LoginError("refused", "wrong username or password", 401);
    if (response.status === 429) {
      const wait = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
      const retryAfter = Number.isFinite(wait) ? wait : null;
      throw new LoginError(
        "throttled",
        `too many failed logins; try again in ${retryAfter ?? "a while"} s`,
        429,
        retryAfter,
      );
    }
    if (!response.ok)
      throw new LoginError(
        "unavailable",
        `logins cannot be checked now (HTTP ${response.status}): ${await response.text()}`,
        response.status,
      );
    const body = (await response.json()) as { user: string; session: string };
    this.session = body.session;
    return body.user;
  }

  private async becomeUser(store: VortexStore, user: string | null): Promise<void> {
    if (user !== this.user) {
      // Another user's in-memory actions must not go out under this login.
      this.failPending(new VortexError("closed", "the user changed"));
    }
    this.user = user;
    this.userSubject.next(user);
    try {
      await store.setLastUser(user);
    } catch {
      // The offline cache is a convenience: a failing store must not stop a login.
    }
  }

  /** Log out: ends the session, forgets this user's cache and queued actions, reconnects anonymously. */
  async logout(): Promise<void> {
    const store = await this.ready;
    const user = this.user;
    if (this.session !== null) {
      try {
        await this.fetch(this.base + LOGOUT_PATH, {
          method: "POST",
          headers: this.authHeaders(),
          credentials: "same-origin",
        });
      } catch {
        // Unreachable: the session ends at its idle timeout instead.
      }
    }
    this.session = null;
    this.credentials = null;
    this.failPending(new VortexError("closed", "logged out"));
    await store.forget(user);
    await this.becomeUser(store, null);
    if (this.running) this.restart();
  }

  private authHeaders(): Record<string, string> {
    return this.session === null ? {} : { Authorization: `Bearer ${this.session}` };
  }

  // -- the connection ------------------------------------------------------

  /** Connect (anonymously unless logged in) and stay connected until `close()`. */
  connect(): void {
    if (this.closed) throw new VortexError("closed", "this client is closed");
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  /** Close the socket for good: pending actions fail with `closed`, observables complete. */
  async close(): Promise<void> {
    this.closed = true;
    this.running = false;
    this.connection?.abort();
    this.wake?.();
    this.failPending(new VortexError("closed", "the client was closed"));
    for (const watch of this.watches.values()) watch.subject.complete();
    this.watches.clear();
    this.stateSubject.next("offline");
    (await this.ready).close();
  }

  private restart(): void {
    if (this.closed) return;
    if (!this.running) {
      this.connect();
      return;
    }
    this.connection?.abort();
    this.wake?.();
  }

  private async run(): Promise<void> {
    const store = await this.ready;
    let failures = 0;
    let relogged = false;
    while (this.running) {
      this.stateSubject.next("reconnecting");
      const welcomed = await this.connectOnce(store);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await
      if (!this.running) break;
      if (welcomed) {
        failures = 0;
        relogged = false;
        continue; // a socket that worked and dropped: try again at once
      }
      failures += 1;
      if (!relogged && (await this.sessionForgotten())) {
        // The session expired, was ended (a logout elsewhere) or was lost by
        // the client service: log in again with the kept credentials, else go
        // on anonymously (user$ turns null: the application asks for a login).
        relogged = true;
        const credentials = this.credentials;
        try {
          if (credentials === null) throw new LoginError("refused", "no credentials kept", null);
          await this.becomeUser(store, await this.postLogin(credentials.username, credentials.password));
          continue;
        } catch (exc) {
          if (exc instanceof LoginError && exc.code === "refused") {
            await this.dropSession(store);
            continue;
          }
        }
      }
      await this.pause(this.delay(failures));
      relogged = false; // at most one login per backoff step
    }
    this.stateSubject.next("offline");
  }

  /**
   * Whether the service refuses our session. Browsers cannot see a WebSocket
   * handshake's HTTP status, so ask the socket's URL with a plain GET: the
   * service checks the session (401) before it looks for an upgrade (400).
   */
  private async sessionForgotten(): Promise<boolean> {
    try {
      const response = await this.fetch(this.base + WS_PATH, {
        headers: this.authHeaders(),
        credentials: "same-origin",
        signal: AbortSignal.timeout((this.options.connectTimeout ?? 10) * 1000),
      });
      await response.body?.cancel();
      return response.status === 401;
    } catch {
      return false; // unreachable: back off and try again
    }
  }

  private async dropSession(store: VortexStore): Promise<void> {
    try {
      // Clears the HttpOnly cookie, which only the service can do.
      await this.fetch(this.base + LOGOUT_PATH, {
        method: "POST",
        headers: this.authHeaders(),
        credentials: "same-origin",
      });
    } catch {
      // unreachable now: the next handshake failure asks again
    }
    this.session = null;
    this.credentials = null;
    await this.becomeUser(store, null);
  }

  private delay(failures: number): number {
    const { initial, max } = this.options.backoff ?? { initial: 0.5, max: 30 };
    const base = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
    return (base / 2 + Math.random() * (base / 2)) * 1000; // jitter: clients do not return in step
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.wake = null;
    });
  }

  /** One socket, from opening until it is lost; whether it was welcomed. */
  private connectOnce(store: VortexStore): Promise<boolean> {
    const url = this.base.replace(/^http/, "ws") + WS_PATH;
    let socket: WebSocketLike;
    try {
      socket = this.openSocket(url, this.session);
    } catch {
      return Promise.resolve(false);
    }
    socket.binaryType = "arraybuffer";
    return new Promise<boolean>((resolve) => {
      let welcomed = false;
      let finished = false;
      let lastHeard = Date.now();
      let heartbeat: ReturnType<typeof setInterval> | null = null;
      let markLost: () => void = () => undefined;
      const lost = new Promise<void>((done) => (markLost = done));
      const connectTimer = setTimeout(() => abort(), (this.options.connectTimeout ?? 10) * 1000);
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(connectTimer);
        if (heartbeat !== null) clearInterval(heartbeat);
        socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
        if (this.connection === connection) this.connection = null;
        markLost();
        resolve(welcomed);
      };
      const abort = (): void => {
        try {
          // A dead peer never answers a closing handshake: do not wait for one.
          if (socket.terminate) socket.terminate();
          else socket.close(4000, "dead");
        } catch {
          // closing an unopened socket may throw; it is gone either way
        }
        finish();
      };
      const connection: Connection = { socket, lost, abort };
      this.connection = connection;
      socket.onclose = finish;
      socket.onerror = abort;
      socket.onmessage = (event) => {
        lastHeard = Date.now();
        const data = asBytes(event.data);
        if (data === null) return; // vortex frames are binary
        let frame: Frame;
        try {
          frame = decodeFrame(data, this.maxFrame);
        } catch {
          return; // a broken frame from the service: nothing to route it to
        }
        if (welcomed) {
          this.onFrame(frame, store);
        } else if (frame.header.t === "welcome") {
          welcomed = true;
          clearTimeout(connectTimer);
          const every =
            this.options.heartbeat ??
            (typeof frame.header.heartbeat === "number" ? frame.header.heartbeat : DEFAULT_HEARTBEAT);
          const deadAfter = (this.options.deadAfter ?? 1.5 * every) * 1000;
          heartbeat = setInterval(() => {
            if (Date.now() - lastHeard > deadAfter) abort();
            else this.send(connection, encodeFrame({ t: "ping" }));
          }, every * 1000);
          this.onWelcome(connection, frame.header, store);
        }
      };
    });
  }

  private send(connection: Connection, frame: Uint8Array): void {
    if (this.connection !== connection) return;
    try {
      connection.socket.send(frame);
    } catch {
      connection.abort(); // a socket that cannot send is as good as lost
    }
  }

  private onWelcome(connection: Connection, header: Header, store: VortexStore): void {
    const user = typeof header.user === "string" ? header.user : null;
    void this.becomeUser(store, user).then(() => {
      if (this.connection !== connection) return;
      this.stateSubject.next("online");
      for (const watch of this.watches.values()) this.send(connection, this.subFrame("sub", watch));
      for (const action of this.pending.values()) {
        if (action.sent && !action.queued) this.transmit(connection, action);
      }
      void this.drain(connection, store);
    });
  }

  private onFrame(frame: Frame, store: VortexStore): void {
    const header = frame.header;
    if (header.t === "data") {
      const watch = this.watches.get(selectorId(String(header.key), (header.selector ?? {}) as Selector));
      if (watch === undefined) return;
      let tuples: AnyTuple[];
      try {
        tuples = this.tuples.decode(framePayload(frame, this.maxFrame));
      } catch (exc) {
        this.endWatch(watch, exc as VortexError);
        return;
      }
      watch.fresh = true;
      watch.subject.next(tuples);
      store.cache(this.user, watch.sid, frame.data).catch(() => undefined);
    } else if (header.t === "reply" || header.t === "err") {
      const action = typeof header.id === "string" ? this.pending.get(header.id) : undefined;
      if (action !== undefined) {
        if (header.t === "err") {
          action.settle({ error: errorOf(header) });
          return;
        }
        try {
          action.settle({ tuples: this.tuples.decode(framePayload(frame, this.maxFrame)) });
        } catch (exc) {
          action.settle({ error: exc as VortexError });
        }
      } else if (header.t === "err" && typeof header.key === "string") {
        const watch = this.watches.get(selectorId(header.key, (header.selector ?? {}) as Selector));
        if (watch !== undefined) this.endWatch(watch, errorOf(header));
      }
    }
  }

  // -- observables ---------------------------------------------------------

  /**
   * The tuples of `key` for `selector`: the current value at once (from the
   * offline cache until the service answers) and every update after.
   * Subscribers of one selector share one subscription; it errors with a
   * VortexError (`unauthenticated`, `no_handler`, ...) when the service refuses it.
   */
  observe<T extends AnyTuple = AnyTuple>(key: string, selector: Selector = {}): Observable<T[]> {
    return new Observable<T[]>((subscriber) => {
      const sid = selectorId(key, selector);
      let watch = this.watches.get(sid);
      if (watch === undefined) {
        watch = {
          key,
          selector: { ...selector },
          sid,
          subject: new ReplaySubject<AnyTuple[]>(1),
          refs: 0,
          fresh: false,
        };
        this.watches.set(sid, watch);
        this.startWatch(watch);
      }
      watch.refs += 1;
      const current = watch;
      const inner = current.subject.subscribe({
        next: (tuples) => subscriber.next(tuples as T[]),
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        inner.unsubscribe();
        current.refs -= 1;
        if (current.refs === 0 && this.watches.get(sid) === current) {
          this.watches.delete(sid);
          if (this.connection !== null && this.state === "online")
            this.send(this.connection, this.subFrame("unsub", current));
        }
      };
    });
  }

  private startWatch(watch: Watch): void {
    if (this.connection !== null && this.state === "online") this.send(this.connection, this.subFrame("sub", watch));
    void this.ready
      .then((store) => store.cached(this.user, watch.sid))
      .then((data) => {
        if (data === undefined || watch.fresh || this.watches.get(watch.sid) !== watch) return;
        const frame = decodeFrame(data, Number.MAX_SAFE_INTEGER);
        watch.subject.next(this.tuples.decode(framePayload(frame, this.maxFrame)));
      })
      .catch(() => undefined); // no cache, or one from an older version: wait for the service
  }

  private endWatch(watch: Watch, error: VortexError): void {
    if (this.watches.get(watch.sid) === watch) this.watches.delete(watch.sid);
    if (this.connection !== null && this.state === "online") this.send(this.connection, this.subFrame("unsub", watch));
    watch.subject.error(error);
  }

  private subFrame(t: "sub" | "unsub", watch: Watch): Uint8Array {
    return encodeFrame({ t, key: watch.key, selector: watch.selector });
  }

  // -- actions -------------------------------------------------------------

  /**
   * Send `tuple` to its plugin's processor on the server; its reply tuples.
   *
   * Online, the action goes out at once and is resent (same id) after a
   * reconnect until answered. Offline (or while earlier offline actions are
   * still going out), it is queued durably and sent after reconnecting, in
   * order, one at a time; the promise then waits for that. `timeout` runs
   * from sending: past it the promise fails with `timeout` (the action may
   * still have run). Refusals fail with the service's code (`failed`,
   * `unauthenticated`, `no_handler`, ...).
   */
  async action(tuple: AnyTuple, options: ActionOptions = {}): Promise<AnyTuple[]> {
    const store = await this.ready;
    if (this.closed) throw new VortexError("closed", "this client is closed");
    const id = options.id ?? randomId();
    const timeout = options.timeout ?? this.options.actionTimeout ?? 30;
    if (!(timeout > 0)) throw new RangeError("an action timeout is a positive number of seconds");
    const frame = encodeFrame({ t: "act", id, key: tuple._t, timeout }, this.tuples.encode([tuple]), this.compressOver);
    let result: { tuples: AnyTuple[] } | { error: VortexError } | undefined;
    const action = this.track(id, frame, timeout, (outcome) => (result = outcome));
    const connection = this.connection;
    if (connection !== null && this.state === "online" && !this.draining) {
      this.transmit(connection, action);
    } else {
      action.queued = true;
      await store.enqueue({ id, user: this.user, frame, timeout });
      if (this.connection !== null && this.state === "online") void this.drain(this.connection, store);
    }
    await action.done;
    if (result === undefined) throw new VortexError("closed", "no answer");
    if ("error" in result) throw result.error;
    return result.tuples;
  }

  /**
   * Send `tuple` with one HTTP POST (`/vortex/action`) instead of the socket,
   * for pages that cannot keep one. No queueing: a network failure rejects.
   */
  async postAction(tuple: AnyTuple, options: ActionOptions = {}): Promise<AnyTuple[]> {
    const timeout = options.timeout ?? this.options.actionTimeout ?? 30;
    const header = { t: "act", id: options.id ?? randomId(), key: tuple._t, timeout };
    const response = await this.fetch(this.base + ACTION_PATH, {
      method: "POST",
      headers: { "Content-Type": CONTENT_TYPE, ...this.authHeaders() },
      body: encodeFrame(header, this.tuples.encode([tuple]), this.compressOver) as Uint8Array<ArrayBuffer>,
      credentials: "same-origin",
      // The service answers `timeout` itself after `timeout` seconds; this only guards against a lost reply.
      signal: AbortSignal.timeout((timeout + 5) * 1000),
    });
    const answer = decodeFrame(new Uint8Array(await response.arrayBuffer()), this.maxFrame);
    if (answer.header.t === "err") throw errorOf(answer.header);
    return this.tuples.decode(framePayload(answer, this.maxFrame));
  }

  private track(
    id: string,
    frame: Uint8Array,
    timeout: number,
    onSettled: (outcome: { tuples: AnyTuple[] } | { error: VortexError }) => void,
  ): Pending {
    if (this.pending.has(id)) throw new VortexError("conflict", `action ${id} is in flight already`);
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const action: Pending = {
      id,
      frame,
      timeout,
      queued: false,
      sent: false,
      timer: null,
      done,
      settle: (outcome) => {
        if (this.pending.get(id) !== action) return;
        this.pending.delete(id);
        if (action.timer !== null) clearTimeout(action.timer);
        onSettled(outcome);
        resolveDone();
      },
    };
    this.pending.set(id, action);
    return action;
  }

  private transmit(connection: Connection, action: Pending): void {
    if (!action.sent) {
      action.sent = true;
      action.timer = setTimeout(
        () =>
          action.settle({
            error: new VortexError("timeout", `no answer within ${action.timeout} s; it may still run`),
          }),
        action.timeout * 1000,
      );
    }
    this.send(connection, action.frame);
  }

  /** Send this user's queued actions one at a time, oldest first, each until answered. */
  private async drain(connection: Connection, store: VortexStore): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const queue = await store.queued(this.user);
        if (queue.length === 0 || this.connection !== connection) return;
        for (const entry of queue) {
          if (this.connection !== connection) return; // the next connection starts over, same ids
          let action = this.pending.get(entry.id);
          if (action === undefined) {
            // Queued by an earlier page: its answer goes to answers$.
            action = this.track(entry.id, entry.frame, entry.timeout, (outcome) =>
              this.answerSubject.next(
                "error" in outcome ? { id: entry.id, error: outcome.error } : { id: entry.id, tuples: outcome.tuples },
              ),
            );
          }
          action.queued = true;
          this.transmit(connection, action);
          const answered = await Promise.race([action.done.then(() => true), connection.lost.then(() => false)]);
          if (!answered) return;
          await store.dequeue(entry.id);
        }
      }
    } finally {
      this.draining = false;
      // Actions queued while the last pass read the store are picked up by a new pass.
      if (this.connection === connection) {
        const left = await store.queued(this.user).catch(() => []);
        if (left.length > 0) void this.drain(connection, store);
      }
    }
  }

  private failPending(error: VortexError): void {
    for (const action of [...this.pending.values()]) action.settle({ error });
  }
}
