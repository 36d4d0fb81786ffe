"""The service link: one authenticated WebSocket from each client, agent and
worker to the server's data-exchange site.

The peer always dials out (``GET /link`` on the exchange port, with
``Authorization: Bearer <token>``), so a firewall only has to let
"segment -> server:8011" through. Every message is a vortex frame
(:mod:`peek.vortex.envelope`, PROTOCOL.md): a MessagePack header whose
``"t"`` is the message type, and an optional body; a JSON object in a text
or binary message is accepted too (it is read as a header without a body).
The first message a peer sends is ``hello`` naming its kind, name and what
it runs. Both ends ping a quiet peer (WebSocket pings, with one timer
rather than aiohttp's callback per message) and drop one that stops
answering; the dialling end reconnects with capped exponential backoff and
full jitter, and says ``hello`` again.

Higher layers (status, and the vortex tuples/observables/actions) register a
handler per message type on either end.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from peek.errors import PeekError
from peek.vortex.envelope import MAGIC, Frame, FrameError, decode_frame, encode_frame
from peek.vortex.tokens import TokenInfo

__all__ = [
    "DEFAULT_HEARTBEAT",
    "LINK_PATH",
    "Backoff",
    "Beat",
    "Heartbeat",
    "LinkClient",
    "LinkDown",
    "LinkServer",
    "Message",
    "Peer",
]

log = logging.getLogger(__name__)

LINK_PATH = "/link"
DEFAULT_HEARTBEAT = 10.0
HELLO_TIMEOUT = 10.0
DEFAULT_MAX_FRAME = 1 << 20

_json_decoder = msgspec.json.Decoder(dict[str, Any])


class Message(dict[str, Any]):
    """A received message: its header as a dict, and the whole ``frame`` (None for JSON)."""

    __slots__ = ("frame",)

    def __init__(self, header: dict[str, Any], frame: Frame | None = None) -> None:
        super().__init__(header)
        self.frame = frame


class LinkDown(PeekError):
    """The link to the server is not connected right now."""


@dataclass(eq=False)  # compared and hashed by identity: one per connection
class Peer:
    """A service connected to this server, as the server sees it."""

    kind: str
    name: str
    token_id: str
    remote: str
    hello: Message
    ws: web.WebSocketResponse = field(repr=False)
    transport: asyncio.BaseTransport | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    async def send(self, message: dict[str, Any], body: bytes = b"") -> None:
        await self.ws.send_bytes(encode_frame(message, body))


class Beat:
    """One socket watched by a :class:`Heartbeat`; its reader sets ``quiet = 0`` per message."""

    __slots__ = ("quiet", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None) -> None:
        self.ws = ws
        self.transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.quiet = 0


class Heartbeat:
    """Liveness of many server-side WebSockets with one timer for all of them.

    aiohttp's own heartbeat keeps a timer per socket and schedules a callback
    for every message received; with thousands of browser sockets and a
    callback per action, both add up. Here, every ``interval / 2`` seconds
    each watched socket's quiet count goes up by one, and any message from
    its peer (pongs included: readers use ``autoping=False`` and answer pings
    themselves) sets it back to 0. Quiet for ``interval``: pinged. Quiet for
    1.5 x ``interval``: aborted, so a dead peer is dropped within 1.5 x
    ``interval``, as with aiohttp's heartbeat. Must be used in the event loop.
    """

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self.name = name
        self._beats: dict[Beat, None] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None) -> Beat:
        beat = Beat(ws, transport)
        self._beats[beat] = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"heartbeat of {self.name}"
            )
        return beat

    def forget(self, beat: Beat) -> None:
        self._beats.pop(beat, None)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _run(self) -> None:
        try:
            while self._beats:
                await asyncio.sleep(self.interval / 2)
                for beat in list(self._beats):
                    beat.quiet += 1
                    if beat.quiet >= 3:
                        self._drop(beat)
                    elif beat.quiet == 2:
                        await self._ping(beat)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _drop(self, beat: Beat) -> None:
        self.forget(beat)
        log.info("%s: a peer did not answer pings for %g s; dropping it", self.name, self.interval)
        if beat.transport is not None:
            beat.transport.abort()

    @staticmethod
    async def _ping(beat: Beat) -> None:
        t = beat.transport
        # Only when the ping goes out at once: a peer that does not read must
        # not hold up the pings of the others (it is dropped when quiet).
        if (
            t is None
            or t.is_closing()
            or t.get_write_buffer_size() >= t.get_write_buffer_limits()[1]
        ):
            return
        try:
            await beat.ws.ping()
        except (ConnectionError, RuntimeError):
            return


class _Silence:
    """Liveness of a :class:`LinkClient`'s socket, on the rules of :class:`Heartbeat`.

    aiohttp's client heartbeat schedules a callback for every message
    received (to move its ping timer); here one timer ticks every
    ``interval / 2`` seconds, the reader sets ``quiet = 0`` per message
    (pongs included: the socket uses ``autoping=False``), a socket quiet for
    ``interval`` is pinged, and one quiet for 1.5 x ``interval`` is given up:
    ``expire`` (the reader's ``asyncio.timeout``) fires, and the link
    reconnects.
    """

    __slots__ = ("_expire", "_interval", "_ping", "_timer", "_ws", "quiet")

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, interval: float, expire: asyncio.Timeout
    ) -> None:
        self.quiet = 0
        self._ws = ws
        self._interval = interval
        self._expire = expire
        self._ping: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(interval / 2, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        self.quiet += 1
        if self.quiet >= 3:
            log.warning("the server did not answer pings for %g s", self._interval)
            self._expire.reschedule(loop.time())
            return
        if self.quiet == 2 and self._ping is None:
            self._ping = loop.create_task(self._send_ping(), name="link ping")
        self._timer = loop.call_later(self._interval / 2, self._tick)

    async def _send_ping(self) -> None:
        try:
            await self._ws.ping()
        except (ConnectionError, RuntimeError):
            pass  # the link is going down: the reader sees that
        finally:
            self._ping = None

    def stop(self) -> None:
        self._timer.cancel()
        if self._ping is not None:
            self._ping.cancel()


ServerHandler = Callable[[Peer, Message], Awaitable[None] | None]
PeerCallback = Callable[[Peer], Awaitable[None] | None]


class LinkServer:
    """The server end: ``handle`` is the aiohttp handler for ``GET /link``."""

    def __init__(
        self,
        verify: Callable[[str], Awaitable[TokenInfo | None]],
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        on_connect: PeerCallback | None = None,
        on_disconnect: PeerCallback | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self._verify = verify
        self._max_frame = max_frame
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._handlers: dict[str, ServerHandler] = {}
        self._liveness = Heartbeat(heartbeat, "the service links")
        self.peers: dict[tuple[str, str], Peer] = {}
        self._closed = False

    def on(self, message_type: str, handler: ServerHandler) -> None:
        """Route messages of ``message_type`` from any peer to ``handler``."""
        self._handlers[message_type] = handler

    async def close(self) -> None:
        """Close every peer's socket (they will reconnect to whoever serves next).

        All at once: each close waits for the peer's answer (up to the socket's
        close timeout), and a peer that is itself stopping or stuck must not
        hold the server's stop for a timeout per peer. A peer that dials
        again before the site stops is refused (503) rather than greeted."""
        self._closed = True
        await asyncio.gather(
            *(
                peer.ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server stopping")
                for peer in list(self.peers.values())
            )
        )
        await self._liveness.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._closed:
            # A socket accepted now would wait for a hello that the stopping
            # site no longer reads, and hold the site's shutdown meanwhile.
            raise web.HTTPServiceUnavailable(text="the server is stopping")
        remote = request.remote or "?"
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        info = await self._verify(token) if scheme.lower() == "bearer" and token else None
        if info is None:
            log.warning(
                "refused service link from %s: %s", remote, "wrong token" if token else "no token"
            )
            raise web.HTTPUnauthorized(
                text="a valid service token is required",
                headers={"WWW-Authenticate": 'Bearer realm="peek-link"'},
            )
        # Pings: self._liveness, for all peers at once (answered below).
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        peer = await self._greet(ws, info, remote, request.transport)
        if peer is None:
            return ws
        old = self.peers.get(peer.key)
        if old is not None:
            log.info("%s %s connected again; closing its old link", peer.kind, peer.name)
            await old.ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"replaced")
        self.peers[peer.key] = peer
        log.info("%s %s connected from %s", peer.kind, peer.name, remote)
        beat = self._liveness.watch(ws, request.transport)
        try:
            await _maybe_await(self._on_connect, peer)
            async for msg in ws:
                beat.quiet = 0
                if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    pending = self._dispatch(peer, msg.data)
                    if pending is not None:
                        try:
                            await pending
                        except Exception:  # isolation boundary: one message
                            log.exception("handling a message from %s %s failed", *peer.key)
                elif msg.type is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
        finally:
            self._liveness.forget(beat)
            if self.peers.get(peer.key) is peer:
                del self.peers[peer.key]
                log.info("%s %s disconnected", peer.kind, peer.name)
                await _maybe_await(self._on_disconnect, peer)
        return ws

    async def _greet(
        self,
        ws: web.WebSocketResponse,
        info: TokenInfo,
        remote: str,
        transport: asyncio.BaseTransport | None,
    ) -> Peer | None:
        hello: Message | None = None
        try:
            msg = await ws.receive(timeout=HELLO_TIMEOUT)
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                hello = _decode(msg.data, self._max_frame)
        except (TimeoutError, FrameError):
            hello = None
        if not hello or hello.get("t") != "hello":
            log.warning("service link from %s sent no hello; closing", remote)
            await ws.close(code=aiohttp.WSCloseCode.PROTOCOL_ERROR, message=b"hello expected")
            return None
        if hello.get("kind") != info.kind:
            log.warning(
                "token %s is for a %s, but %s said it is a %s; closing",
                info.id,
                info.kind,
                remote,
                hello.get("kind"),
            )
            await ws.close(code=aiohttp.WSCloseCode.POLICY_VIOLATION, message=b"wrong kind")
            return None
        return Peer(
            kind=info.kind,
            name=info.name,
            token_id=info.id,
            remote=remote,
            hello=hello,
            ws=ws,
            transport=transport,
        )

    def _dispatch(self, peer: Peer, data: str | bytes) -> Awaitable[None] | None:
        """Hand one message to its handler; what ``handle`` awaits for it, if anything.

        Not a coroutine itself: one coroutine less per message on the hot path.
        """
        try:
            message = _decode(data, self._max_frame)
        except FrameError as exc:
            log.warning("dropped a message from %s %s: %s", peer.kind, peer.name, exc)
            return None
        handler = self._handlers.get(message["t"])
        if handler is None:
            log.warning(
                "no handler for message type %r from %s %s", message.get("t"), peer.kind, peer.name
            )
            return None
        try:
            return handler(peer, message)
        except Exception:  # isolation boundary: one message
            log.exception("handling %r from %s %s failed", message.get("t"), peer.kind, peer.name)
            return None


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter (a delay drawn from [0, cap])."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        cap = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return self.rng.uniform(0, cap)

    def reset(self) -> None:
        self.attempt = 0


ClientHandler = Callable[[Message], Awaitable[None] | None]


class LinkClient:
    """The dialling end, used by clients, agents and workers.

    ``hello`` is called on every (re)connect for the payload of the hello
    message (kind, name, plugins). ``run`` keeps the link up until ``close``.
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        hello: Callable[[], dict[str, Any]],
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        backoff: Backoff | None = None,
        on_connect: Callable[[], Awaitable[None] | None] | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.url = server_url.rstrip("/") + LINK_PATH
        self._max_frame = max_frame
        self._token = token
        self._hello = hello
        self._heartbeat = heartbeat
        self._backoff = backoff or Backoff()
        self._on_connect = on_connect
        self._handlers: dict[str, ClientHandler] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.connects = 0

    def on(self, message_type: str, handler: ClientHandler) -> None:
        """Route messages of ``message_type`` from the server to ``handler``."""
        self._handlers[message_type] = handler

    async def send(self, message: dict[str, Any], body: bytes = b"") -> None:
        """Send now; raises :class:`LinkDown` while disconnected."""
        await self.send_frame(encode_frame(message, body))

    async def send_frame(self, frame: bytes) -> None:
        """Send an encoded frame now; raises :class:`LinkDown` while disconnected."""
        ws = self._ws
        if ws is None or ws.closed:
            raise LinkDown(f"not connected to {self.url}")
        try:
            await ws.send_bytes(frame)
        except (ConnectionError, RuntimeError) as exc:
            raise LinkDown(f"link to {self.url} dropped while sending: {exc}") from None

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        """Connect, serve and reconnect after any drop, until :meth:`close`. Runs in the loop."""
        headers = {"Authorization": f"Bearer {self._token}"}
        async with aiohttp.ClientSession() as session:
            while not self._closing:
                try:
                    # Pings: _Silence (answered in _serve). A close handshake
                    # with a server that stopped answering waits this long.
                    async with session.ws_connect(
                        self.url,
                        headers=headers,
                        autoping=False,
                        timeout=aiohttp.ClientWSTimeout(ws_close=self._heartbeat / 2),
                    ) as ws:
                        await self._serve(ws)
                except aiohttp.WSServerHandshakeError as exc:
                    if exc.status == 401:
                        log.error("the server at %s refused this service's token", self.url)
                    else:
                        log.warning("link to %s failed: HTTP %s", self.url, exc.status)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.info("link to %s is down: %s", self.url, exc or type(exc).__name__)
                finally:
                    self._ws = None
                    self.connected.clear()
                if self._closing:
                    break
                delay = self._backoff.next_delay()
                log.debug("reconnecting to %s in %.2f s", self.url, delay)
                await asyncio.sleep(delay)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_bytes(encode_frame({"t": "hello", **self._hello()}))
        self._ws = ws
        self.connects += 1
        self._backoff.reset()
        self.connected.set()
        log.info("link to %s is up", self.url)
        async with asyncio.timeout(None) as expire:
            silence = _Silence(ws, self._heartbeat, expire)
            try:
                await _maybe_await(self._on_connect)
                async for msg in ws:
                    silence.quiet = 0
                    if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                        if msg.type is aiohttp.WSMsgType.PING:
                            await ws.pong(msg.data)
                        continue
                    try:
                        message = _decode(msg.data, self._max_frame)
                    except FrameError as exc:
                        log.warning("dropped a message from the server: %s", exc)
                        continue
                    handler = self._handlers.get(message["t"])
                    if handler is None:
                        log.warning(
                            "no handler for message type %r from the server", message.get("t")
                        )
                        continue
                    try:
                        result = handler(message)
                        if result is not None:
                            await result
                    except Exception:  # isolation boundary: one message
                        log.exception("handling %r from the server failed", message.get("t"))
            finally:
                silence.stop()
        if not self._closing:
            log.warning("link to %s closed (code %s)", self.url, ws.close_code)


def _decode(data: str | bytes, max_frame: int) -> Message:
    """A frame, or a JSON object, as a :class:`Message`; FrameError if it is neither."""
    if isinstance(data, bytes) and data and data[0] == MAGIC:
        frame = decode_frame(data, max_frame)
        return Message(frame.header, frame)
    if len(data) > max_frame:
        raise FrameError("too_large", f"{len(data)} bytes > {max_frame}")
    try:
        header = _json_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError("malformed", f"neither a vortex frame nor a JSON object: {exc}") from None
    if not isinstance(header.get("t"), str):
        raise FrameError("malformed", 'no message type "t"')
    return Message(header)


async def _maybe_await(fn: Callable[..., Any] | None, *args: Any) -> None:
    if fn is None:
        return
    result = fn(*args)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result
