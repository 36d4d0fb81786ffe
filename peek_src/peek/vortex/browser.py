"""Browsers on the client's user site: login, the vortex WebSocket, the action POST.

Routes (mounted by the client service; PROTOCOL.md has the wire details):

- ``POST /vortex/login`` ``{"username", "password"}`` -> ``{"user", "session"}``
  and a ``peek_session`` cookie (HttpOnly, SameSite=Strict); 401 if refused;
  429 with ``Retry-After`` after too many failures from one address or for one
  user name (:class:`~peek.vortex.sessions.LoginLimiter`).
- ``POST /vortex/logout`` ends the session and closes its sockets.
- ``GET /vortex/ws``: the WebSocket. The session comes from the cookie or
  ``Authorization: Bearer <session>``; without one the socket is anonymous
  and may use only what handlers allow anonymously.
- ``POST /vortex/action``: one ``act`` frame in, its ``reply``/``err`` frame out,
  for browsers that cannot keep a socket.

Sessions are kept by a :class:`~peek.vortex.sessions.SessionStore`: the
client's survives its restarts (a SQLite file in its data directory).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from peek.config import VortexConfig
from peek.vortex.envelope import FrameError, decode_frame, encode_frame, selector_id
from peek.vortex.hub import UpstreamVortex, _routing, error_frame
from peek.vortex.link import Heartbeat
from peek.vortex.outbox import Outbox
from peek.vortex.sessions import LoginLimiter, LoginLimits, SessionStore, token_hash

__all__ = [
    "ACTION_PATH",
    "CONTENT_TYPE",
    "LOGIN_PATH",
    "SESSION_COOKIE",
    "WS_PATH",
    "Authenticator",
    "BrowserGateway",
    "LoginLimiter",
    "SessionStore",
    "client_address",
]

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

WS_PATH = "/vortex/ws"
ACTION_PATH = "/vortex/action"
LOGIN_PATH = "/vortex/login"
LOGOUT_PATH = "/vortex/logout"
SESSION_COOKIE = "peek_session"
CONTENT_TYPE = "application/x-peek-vortex"
MAX_INFLIGHT_ACTIONS = 64
MAX_LOGIN_BODY = 4096

#: ``(username, password) -> the (folded) username, or None if refused``.
Authenticator = Callable[[str, str], Awaitable[str | None]]

_ERROR_STATUS = {
    "malformed": 400,
    "truncated": 400,
    "unknown_tuple": 400,
    "too_large": 413,
    "unauthenticated": 401,
    "forbidden": 403,
    "no_handler": 404,
    "conflict": 409,
    "timeout": 504,
    "busy": 429,
    "unavailable": 503,
}


def session_token(request: web.Request, cookie: str = SESSION_COOKIE) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(cookie)


class BrowserConnection:
    """One browser WebSocket: a sink of the client's subscriptions."""

    # A client holds thousands of these: no __dict__ per connection.
    __slots__ = (
        "actions",
        "anonymous",
        "gateway",
        "outbox",
        "relayed",
        "session",
        "sids",
        "user",
        "ws",
    )
    browser = True  # watches as ``user``: providers authorise it per selector

    def __init__(
        self,
        gateway: BrowserGateway,
        ws: web.WebSocketResponse,
        request: web.Request,
        user: str | None,
        session: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.ws = ws
        self.user = user
        # The session's hash: logging it out closes this socket.
        self.session = session
        self.anonymous = user is None
        self.sids: set[str] = set()
        # Tasks waiting for the admin site's own processors; made on first use.
        self.actions: set[asyncio.Task[None]] | None = None
        self.relayed = 0  # actions sent upstream and not answered yet
        self.outbox = Outbox(
            f"browser {client_address(request, gateway.config.trusted_proxies)} "
            f"({user or 'anonymous'})",
            ws.send_bytes,
            request.transport,
            max_queued=gateway.config.max_queued,
            stall_timeout=gateway.config.stall_timeout,
        )

    async def deliver(self, sid: str, frame: bytes, *, data: bool) -> None:
        if not data:
            self.sids.discard(sid)
        await self.outbox.push(frame, sid if data else None)

    async def send(self, frame: bytes) -> None:
        await self.outbox.push(frame)

    async def handle(self, data: bytes) -> None:
        """One message from the browser; refusals are answered, not raised."""
        config = self.gateway.config
        try:
            frame = decode_frame(data, config.max_frame)
        except FrameError as exc:
            log.warning("refused a frame from %s: %s", self.outbox.name, exc)
            await self.send(error_frame(exc.code, exc.reason))
            return
        kind = frame.header["t"]
        hub = self.gateway.hub
        if kind == "act":  # the most frequent first
            if len(self.actions or ()) + self.relayed >= MAX_INFLIGHT_ACTIONS:
                await self.send(
                    error_frame(
                        "busy",
                        f"over {MAX_INFLIGHT_ACTIONS} actions waiting",
                        **_echo_id(frame.header),
                    )
                )
                return
            if isinstance(hub, UpstreamVortex):
                # Relayed: the answer is pushed to this socket when it comes,
                # with no task waiting for it meanwhile.
                self.relayed += 1
                await hub.send_action(frame, self._relayed_answer, user=self.user, browser=True)
                return
            # The admin site's hub runs the processor itself: wait in a task.
            task = asyncio.get_running_loop().create_task(
                self._act(frame), name=f"action from {self.outbox.name}"
            )
            if self.actions is None:
                self.actions = set()
            self.actions.add(task)
            task.add_done_callback(self.actions.discard)
        elif kind == "ping":
            # A page pings every heartbeat: its session counts as used while it is
            # open, and a session that ended meanwhile closes the socket.
            if self.session is not None and self.gateway.sessions.touch(self.session) is None:
                await self.ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"ended")
                return
            await self.send(encode_frame({"t": "pong", **_echo_id(frame.header)}))
        elif kind in ("sub", "unsub"):
            try:
                plugin, key, selector = _routing(frame.header)
            except FrameError as exc:
                log.warning("refused %s from %s: %s", kind, self.outbox.name, exc)
                await self.send(error_frame(exc.code, exc.reason, **_echo_id(frame.header)))
                return
            sid = selector_id(plugin, key, selector)
            if kind == "sub":
                if sid not in self.sids:
                    self.sids.add(sid)
                    await hub.subscribe(self, plugin, key, selector)
            elif sid in self.sids:
                self.sids.discard(sid)
                hub.unsubscribe(self, sid)
        else:
            log.warning("refused message type %r from %s", kind, self.outbox.name)
            await self.send(error_frame("malformed", f"unknown message type {kind!r}"))

    async def _act(self, frame: Any) -> None:
        reply = await self.gateway.hub.forward_action(frame, user=self.user, browser=True)
        await self.send(reply)

    async def _relayed_answer(self, reply: bytes) -> None:
        self.relayed -= 1
        await self.outbox.push(reply)

    def close(self) -> None:
        self.outbox.close()
        for task in self.actions or ():
            task.cancel()
        self.gateway.hub.drop_sink(self, list(self.sids))
        self.sids.clear()


def _echo_id(header: dict[str, Any]) -> dict[str, Any]:
    action_id = header.get("id")
    return {"id": action_id} if isinstance(action_id, str) else {}


def client_address(request: web.Request, trusted_proxies: Sequence[IPNetwork]) -> str | None:
    """The address of the client behind ``request``: its peer, or, when the peer is a
    trusted reverse proxy, the nearest address in ``X-Forwarded-For`` that is not one.

    Each proxy appends the address it was reached from, so the list is read from
    the right; what lies left of the first untrusted address is the client's own
    say and is ignored. A malformed entry stops the walk at the last trusted hop.
    """
    peer = request.remote
    if not trusted_proxies or not _trusted(_ip(peer), trusted_proxies):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
    address = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        address = hop
        if not _trusted(ip, trusted_proxies):
            break
    return address


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def _trusted(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: Sequence[IPNetwork]
) -> bool:
    return ip is not None and any(ip in network for network in networks)


class BrowserGateway:
    """The browser side of a client's vortex: routes for the user site."""

    def __init__(
        self,
        hub: UpstreamVortex,
        config: VortexConfig,
        authenticate: Authenticator | None,
        *,
        cookie: str = SESSION_COOKIE,
        sessions: SessionStore | None = None,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self.hub = hub
        # The admin site's gateway uses another name: browsers share cookies across ports.
        self.cookie = cookie
        self.config = config
        self._authenticate = authenticate
        # In memory unless the service passes a store with a file (the client does).
        self.sessions = sessions if sessions is not None else SessionStore(config.session_idle)
        self.limiter = (
            limiter
            if limiter is not None
            else LoginLimiter(
                LoginLimits(
                    free_per_user=config.login_attempts_per_user,
                    free_per_address=config.login_attempts_per_address,
                    max_lock=config.login_max_lock,
                )
            )
        )
        self.connections: set[BrowserConnection] = set()
        # One timer pings every quiet socket (not one per socket, see Heartbeat).
        self.liveness = Heartbeat(config.heartbeat, "browser sockets")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(LOGIN_PATH, self.login),
            web.post(LOGOUT_PATH, self.logout),
            web.get(WS_PATH, self.websocket),
            web.post(ACTION_PATH, self.action),
        ]

    async def open(self) -> None:
        """Load the kept sessions; before the site opens."""
        await self.sessions.open()

    async def close(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"client stopping")
        await self.liveness.close()
        await self.sessions.close()

    # -- login -----------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        if self._authenticate is None:
            raise web.HTTPServiceUnavailable(text="no plugin provides 'user' logins here")
        if (request.content_length or 0) > MAX_LOGIN_BODY:
            raise web.HTTPRequestEntityTooLarge(MAX_LOGIN_BODY, request.content_length or 0)
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="the body must be JSON") from None
        username = body.get("username") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(username, str) or not isinstance(password, str):
            raise web.HTTPBadRequest(text="'username' and 'password' must be strings")
        remote = client_address(request, self.config.trusted_proxies)
        # Locked out: refused before the password is even checked (that is the point).
        wait = self.limiter.retry_after(remote, username)
        if wait:
            log.warning("throttled login of %r from %s for %d s", username, remote, wait)
            raise web.HTTPTooManyRequests(
                text=f"too many failed logins; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        try:
            user = await self._authenticate(username, password)
        except Exception as exc:  # isolation boundary: the user plugin / the server
            log.warning("login of %r could not be checked: %s", username, exc)
            raise web.HTTPServiceUnavailable(text="logins cannot be checked right now") from None
        if user is None:
            log.info("refused login of %r from %s", username, remote)
            self.limiter.failed(remote, username)
            raise web.HTTPUnauthorized(text="wrong username or password")
        self.limiter.succeeded(remote, username)
        token = await self.sessions.create(user)
        response = web.json_response({"user": user, "session": token})
        response.set_cookie(
            self.cookie,
            token,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            path="/",
        )
        return response

    async def logout(self, request: web.Request) -> web.Response:
        token = session_token(request, self.cookie)
        await self.end_session(token)
        response = web.json_response({"user": None})
        response.del_cookie(self.cookie, path="/")
        return response

    async def end_session(self, token: str | None) -> None:
        """End a session and close the sockets that use it (their browsers see a
        401 when they reconnect, and ask for a login)."""
        if not token:
            return
        await self.sessions.end(token)
        digest = token_hash(token)
        for conn in [c for c in self.connections if c.session == digest]:
            await conn.ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"logged out")

    # -- the socket ----------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        _check_origin(request)
        token = session_token(request, self.cookie)
        user = self.sessions.user(token)
        if token and user is None:
            raise web.HTTPUnauthorized(text="the session expired; log in again")
        ws = web.WebSocketResponse(
            autoping=False,  # pings: self.liveness; pongs count as signs of life below
            compress=False,  # bodies are compressed already, and fan-out sends one frame to many
            max_msg_size=self.config.max_frame * 2,
        )
        await ws.prepare(request)
        conn = BrowserConnection(self, ws, request, user, token_hash(token) if token else None)
        self.connections.add(conn)
        beat = self.liveness.watch(ws, request.transport)
        try:
            await conn.send(
                encode_frame({"t": "welcome", "user": user, "heartbeat": self.config.heartbeat})
            )
            async for msg in ws:
                beat.quiet = 0
                if msg.type is aiohttp.WSMsgType.BINARY:
                    await conn.handle(msg.data)
                elif msg.type is aiohttp.WSMsgType.TEXT:
                    await conn.send(error_frame("malformed", "vortex frames are binary messages"))
                elif msg.type is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
        finally:
            self.liveness.forget(beat)
            self.connections.discard(conn)
            conn.close()
        return ws

    # -- the POST fallback ---------------------------------------------------

    async def action(self, request: web.Request) -> web.Response:
        _check_origin(request)
        if request.content_type != CONTENT_TYPE:
            # A type no HTML form can send: cross-site forms cannot post actions.
            raise web.HTTPUnsupportedMediaType(text=f"send {CONTENT_TYPE}")
        limit = self.config.max_frame
        if (request.content_length or 0) > limit:
            return _frame_response(error_frame("too_large", f"over {limit} bytes"))
        data = await request.content.read(limit + 1)
        try:
            frame = decode_frame(data, limit)
            if frame.type != "act":
                raise FrameError("malformed", f"POST {ACTION_PATH} takes an act frame")
        except FrameError as exc:
            remote = client_address(request, self.config.trusted_proxies)
            log.warning("refused a posted frame from %s: %s", remote, exc)
            return _frame_response(error_frame(exc.code, exc.reason))
        user = self.sessions.user(session_token(request, self.cookie))
        reply = await self.hub.forward_action(frame, user=user, browser=True)
        return _frame_response(reply)


def _frame_response(frame: bytes) -> web.Response:
    status = 200
    try:
        header = decode_frame(frame, len(frame)).header
        if header.get("t") == "err":
            status = _ERROR_STATUS.get(str(header.get("code")), 502)
    except FrameError:
        status = 502
    return web.Response(body=frame, status=status, content_type=CONTENT_TYPE)


def _check_origin(request: web.Request) -> None:
    # Browsers send Origin on WebSocket handshakes and POSTs; a page from
    # another site must not use this user's session (cross-site WebSocket hijacking).
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (services, tests, command-line tools)
    if origin == "null" or urlsplit(origin).netloc != request.host:
        log.warning("refused %s from origin %s (host %s)", request.path, origin, request.host)
        raise web.HTTPForbidden(text="cross-origin use of the vortex is not allowed")
