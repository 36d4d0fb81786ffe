"""Observables and actions on one service: :class:`ServerVortex` and :class:`UpstreamVortex`.

Both implement :class:`peek.plugin.VortexApi` (``ctx.resources.vortex``).

Observables. A *subscription* is one (plugin, key, selector); it has a set
of *sinks* (browser sockets, linked services, local observers), the latest
data frame, and a *source*: a local provider (``provide``; on the server,
or a client plugin replacing the server for a key) or, on a client, agent
or worker, the one upstream subscription to the server. New sinks get the
cached frame at once; every new frame goes to every sink, encoded once.

Who may watch is decided per (selector, caller), never per subscription:
a provider's ``authorise(selector, caller)`` hook is asked before a sink
joins. On a client, a browser's sink waits until the server has said yes
for its user (a ``sub`` carrying ``browser``/``user``, answered ``allow`` or
``err``); a yes is cached per user on the subscription, so the one upstream
subscription is shared by every watcher but fans out only to sinks whose
user the server authorised.
On an upstream service, a subscription nobody watches is torn down (and
unsubscribed upstream) after ``grace`` seconds; on reconnect every live
subscription is sent again.

Actions. The server runs each action id once (:mod:`peek.vortex.journal`);
upstream services keep every unanswered action and send it again after a
reconnect, until it is answered or its timeout passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from peek.config import VortexConfig
from peek.plugin.tuples import Tuple, TupleError, UnknownTuple, tuple_name
from peek.plugin.vortex import (
    ActionError,
    ActionHandler,
    ActionTimeout,
    Authoriser,
    Caller,
    ObservableHandler,
    Observer,
    Selector,
    VortexError,
)
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import Frame, FrameError, decode_frame, encode_frame, selector_id
from peek.vortex.journal import ActionJournal, Claim, ClaimState, JournalError
from peek.vortex.link import LinkClient, LinkDown, LinkServer, Message, Peer
from peek.vortex.outbox import Outbox

__all__ = [
    "MAX_ACTION_ID",
    "LocalObserver",
    "ServerVortex",
    "Sink",
    "UpstreamVortex",
    "error_frame",
]

log = logging.getLogger(__name__)

MAX_ACTION_ID = 128
# A timer may fire this much before its time; a deadline that close has passed.
_TIMER_SLACK = 0.001
# Callers remembered per linked service (one per browser user who sent actions).
_MAX_CALLERS = 4096
_SCALAR = (str, int, bool, type(None))
# What a synchronous action processor returns (checked before asking asyncio).
_SYNC_RESULTS = (Tuple, list, tuple, type(None))


class Sink(Protocol):
    """Where a subscription's frames go: a browser socket, a linked service, a local observer.

    ``browser`` sinks are authorised as their ``user`` (None: anonymous);
    the others as the service itself.
    """

    anonymous: bool
    browser: bool
    user: str | None

    async def deliver(self, sid: str, frame: bytes, *, data: bool) -> None:
        """Take one frame of subscription ``sid`` (``data``: coalescible, else an error)."""
        ...


def error_frame(code: str, message: str, **routing: Any) -> bytes:
    """An ``err`` frame; ``routing`` adds ``id`` or ``plugin``/``key``/``selector``."""
    return encode_frame({"t": "err", **routing, "code": code, "msg": message})


def split_key(key: str) -> tuple[str, str]:
    """(plugin, key) of a tuple name ``<plugin>.<Name>``; VortexError if it is not one."""
    plugin, dot, name = key.partition(".")
    if not plugin or not dot or not name:
        raise VortexError(f"{key!r} is not a tuple name '<plugin>.<Name>'")
    return plugin, key


def check_selector(selector: Any) -> dict[str, Any]:
    """``selector`` as a dict; FrameError unless a flat map of str to str/int/bool/None."""
    if selector is None:
        return {}
    if not isinstance(selector, Mapping):
        raise FrameError("malformed", "a selector is a map")
    for name, value in selector.items():
        if not isinstance(name, str) or not isinstance(value, _SCALAR):
            raise FrameError(
                "malformed", f"selector entry {name!r}: values are str, int, bool or null"
            )
    return dict(selector)


def _routing(header: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    key = header.get("key")
    if not isinstance(key, str):
        raise FrameError("malformed", 'no "key"')
    try:
        plugin, key = split_key(key)
    except VortexError as exc:
        raise FrameError("malformed", str(exc)) from None
    if header.get("plugin", plugin) != plugin:
        raise FrameError("malformed", f'"plugin" {header.get("plugin")!r} does not own {key!r}')
    return plugin, key, check_selector(header.get("selector"))


@dataclass(eq=False)
class _Provider:
    handler: ObservableHandler
    anonymous: bool
    authorise: Authoriser | None = None


@dataclass(eq=False)
class _Processor:
    handler: ActionHandler
    anonymous: bool


@dataclass(eq=False)
class _Sub:
    sid: str
    plugin: str
    key: str
    selector: dict[str, Any]
    sinks: dict[Sink, None] = field(default_factory=dict)
    # Upstream only: browser sinks waiting for the server's verdict on their
    # user, and the users it allowed (cached while the subscription lives).
    waiting: dict[str | None, dict[Sink, None]] = field(default_factory=dict)
    allowed: set[str | None] = field(default_factory=set)
    frame: bytes | None = None
    # Whether browsers without a login may watch; None until the source says.
    anonymous: bool | None = None
    upstream: bool = False
    teardown: asyncio.TimerHandle | None = None

    def routing(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "key": self.key, "selector": self.selector}

    @property
    def empty(self) -> bool:
        return not self.sinks and not self.waiting


class LocalObserver:
    """A sink that decodes frames for a plugin's ``observe`` callback."""

    anonymous = False
    browser = False
    user: str | None = None

    def __init__(self, hub: _VortexBase, sid: str, observer: Observer) -> None:
        self._hub = hub
        self._sid = sid
        self._observer = observer
        self.closed = False

    async def deliver(self, sid: str, frame: bytes, *, data: bool) -> None:
        if self.closed:
            return
        try:
            parsed = decode_frame(frame, self._hub.config.max_frame)
            if not data:
                log.warning(
                    "observing %s failed: %s %s",
                    parsed.header.get("key"),
                    parsed.header.get("code"),
                    parsed.header.get("msg"),
                )
                return
            tuples = self._hub.registry.decode(parsed.payload(self._hub.config.max_frame))
            result = self._observer(tuples)
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # isolation boundary: one plugin's observer
            log.exception("an observer of %s failed", sid.replace("\x1f", " "))

    def close(self) -> None:
        self.closed = True
        self._hub.unsubscribe(self, self._sid)


class _VortexBase:
    """What server and upstream services share: tuples and subscriptions."""

    kind: str

    def __init__(self, service_name: str, config: VortexConfig) -> None:
        self.service_name = service_name
        self.config = config
        self.registry = TupleRegistry()
        self._providers: dict[str, _Provider] = {}
        self._subs: dict[str, _Sub] = {}
        self._dirty: set[str] = set()
        self._flush: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the plugin API ------------------------------------------------------

    def register_tuples(self, plugin: str, *types: type[Tuple]) -> None:
        self.registry.register(plugin, *types)

    def provide(
        self,
        key: str,
        handler: ObservableHandler,
        *,
        anonymous: bool = False,
        authorise: Authoriser | None = None,
    ) -> None:
        split_key(key)
        self._providers[key] = _Provider(handler, anonymous, authorise)

    def notify(self, key: str, selector: Selector | None = None) -> None:
        want = None if selector is None else selector_id(split_key(key)[0], key, selector)
        for sub in self._subs.values():
            if sub.key == key and not sub.upstream and (want is None or sub.sid == want):
                self._dirty.add(sub.sid)
        if self._dirty and self._flush is None:
            self._flush = self._spawn(self._refresh_dirty(), "vortex notify")

    def observe(self, key: str, selector: Selector, observer: Observer) -> LocalObserver:
        plugin, key = split_key(key)
        sel = check_selector(selector)
        sid = selector_id(plugin, key, sel)
        sink = LocalObserver(self, sid, observer)

        async def start() -> None:
            await self.subscribe(sink, plugin, key, sel)
            if sink.closed:  # closed before it started
                self.unsubscribe(sink, sid)

        self._spawn(start(), f"observe {key}")
        return sink

    # -- subscriptions -------------------------------------------------------

    @property
    def subscriptions(self) -> dict[str, int]:
        """Live subscriptions and their number of sinks (for status and tests)."""
        return {sid: len(sub.sinks) for sid, sub in self._subs.items()}

    def caller_of(self, sink: Sink) -> Caller:
        """Who ``sink`` watches as: its browser user, or this service."""
        return Caller(self.kind, self.service_name, sink.user, via_browser=sink.browser)

    async def subscribe(
        self,
        sink: Sink,
        plugin: str,
        key: str,
        selector: dict[str, Any],
        caller: Caller | None = None,
        *,
        authorised: bool = False,
    ) -> str:
        """Add ``sink`` to a subscription, opening it if new; the subscription id.

        ``caller`` (default :meth:`caller_of` the sink) must be authorised
        for the selector first (unless ``authorised`` says it was just now);
        a refusal is delivered to ``sink`` as an ``err``.
        """
        caller = caller or self.caller_of(sink)
        sid = selector_id(plugin, key, selector)
        sub = self._subs.get(sid)
        new = sub is None
        if sub is None:
            sub = self._subs[sid] = _Sub(sid, plugin, key, selector)
        if sub.teardown is not None:
            sub.teardown.cancel()
            sub.teardown = None
        provider = self._providers.get(key)
        if provider is None:
            await self._join_upstream(sub, sink, caller)
            return sid
        refusal = None if authorised else await self._authorise(provider, sub, caller)
        if refusal is not None:
            await sink.deliver(sid, refusal, data=False)
            self._idle(sub)
            return sid
        sub.sinks[sink] = None
        if new:
            sub.anonymous = provider.anonymous
            await self._refresh(sub, provider)
        elif sub.frame is not None and (sub.anonymous or not sink.anonymous):
            await sink.deliver(sid, sub.frame, data=True)
        return sid

    async def _authorise(
        self, provider: _Provider, sub: _Sub, caller: Caller, **extra: Any
    ) -> bytes | None:
        """None if ``caller`` may watch ``sub``, else the ``err`` frame refusing it."""
        if caller.via_browser and caller.user is None and not provider.anonymous:
            return error_frame(
                "unauthenticated", f"log in to watch {sub.key}", **sub.routing(), **extra
            )
        if provider.authorise is None:
            return None
        try:
            allowed = provider.authorise(sub.selector, caller)
            if not isinstance(allowed, bool):
                allowed = await allowed
        except Exception as exc:  # isolation boundary: one plugin's authorise hook
            log.exception("authorising %s %s for %s failed", sub.key, sub.selector, caller)
            return error_frame(
                "failed",
                f"checking who may watch {sub.key} raised {type(exc).__name__}",
                **sub.routing(),
                **extra,
            )
        if allowed is True:
            return None
        who = caller.user if caller.via_browser else f"{caller.service_kind} {caller.service_name}"
        log.info("refused %s %s to %s", sub.key, sub.selector, who or "anonymous")
        return error_frame(
            "forbidden",
            f"{who or 'anonymous'} may not watch {sub.key} {sub.selector}",
            **sub.routing(),
            **extra,
        )

    def unsubscribe(self, sink: Sink, sid: str) -> None:
        sub = self._subs.get(sid)
        if sub is None:
            return
        if sub.sinks.pop(sink, False) is False:
            waiting = sub.waiting.get(sink.user)
            if waiting is None or waiting.pop(sink, False) is False:
                return
            if not waiting:
                del sub.waiting[sink.user]
        self._idle(sub)

    def _idle(self, sub: _Sub) -> None:
        """Schedule the end of a subscription left without sinks."""
        if sub.empty and sub.teardown is None:
            sub.teardown = asyncio.get_running_loop().call_later(
                self.config.grace if sub.upstream else 0, self._tear_down, sub.sid
            )

    def drop_sink(self, sink: Sink, sids: Sequence[str] | None = None) -> None:
        """Remove ``sink`` from every subscription (or from ``sids``): it is gone."""
        for sid in list(self._subs) if sids is None else sids:
            self.unsubscribe(sink, sid)

    def _tear_down(self, sid: str) -> None:
        sub = self._subs.get(sid)
        if sub is None or not sub.empty:
            return
        del self._subs[sid]
        self._dirty.discard(sid)
        if sub.upstream:
            self._close_upstream(sub)

    async def _join_upstream(self, sub: _Sub, sink: Sink, caller: Caller) -> None:
        """Add ``sink`` to a subscription that no local provider serves."""
        sub.sinks[sink] = None
        await self._fail_sub(sub, "no_handler", f"nothing provides {sub.key} on the {self.kind}")

    def _close_upstream(self, sub: _Sub) -> None:
        return

    async def _refresh_dirty(self) -> None:
        try:
            # Every notify() until this task runs is folded into one refresh.
            while self._dirty:
                dirty, self._dirty = self._dirty, set()
                for sid in dirty:
                    sub = self._subs.get(sid)
                    provider = self._providers.get(sub.key) if sub is not None else None
                    if sub is not None and provider is not None:
                        await self._refresh(sub, provider)
        finally:
            self._flush = None

    async def _refresh(self, sub: _Sub, provider: _Provider) -> None:
        try:
            result = provider.handler(sub.selector)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            body = self.registry.encode(result)  # type: ignore[arg-type]
        except Exception as exc:  # isolation boundary: one plugin's provider
            log.exception("providing %s %s failed", sub.key, sub.selector)
            await self._fail_sub(sub, "failed", f"the provider raised {type(exc).__name__}")
            return
        header = {"t": "data", **sub.routing(), "anon": provider.anonymous}
        await self._publish(
            sub, encode_frame(header, body, compress_over=self.config.compress_over)
        )

    async def _publish(self, sub: _Sub, frame: bytes) -> None:
        sub.frame = frame
        for sink in list(sub.sinks):
            if sink.anonymous and not sub.anonymous:
                del sub.sinks[sink]
                await sink.deliver(sub.sid, self._refusal(sub), data=False)
                continue
            await sink.deliver(sub.sid, frame, data=True)
        self._idle(sub)

    async def _fail_sub(self, sub: _Sub, code: str, message: str) -> None:
        frame = error_frame(code, message, **sub.routing())
        sinks = list(sub.sinks)
        for waiting in sub.waiting.values():
            sinks.extend(waiting)
        sub.sinks.clear()
        sub.waiting.clear()
        self._tear_down(sub.sid)
        for sink in sinks:
            await sink.deliver(sub.sid, frame, data=False)

    @staticmethod
    def _refusal(sub: _Sub) -> bytes:
        return error_frame("unauthenticated", f"log in to watch {sub.key}", **sub.routing())

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for sub in self._subs.values():
            if sub.teardown is not None:
                sub.teardown.cancel()
        self._subs.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))


# -- the server -----------------------------------------------------------------


class _PeerSink:
    """A linked service as a sink: frames go through its outbox."""

    anonymous = False
    browser = False
    user: str | None = None

    def __init__(self, peer: Peer, config: VortexConfig) -> None:
        self.peer = peer
        self._callers: dict[tuple[str | None, bool], Caller] = {}
        self.outbox = Outbox(
            f"{peer.kind} {peer.name}",
            peer.ws.send_bytes,
            peer.transport,
            max_queued=max(config.max_queued, 4096),
            stall_timeout=config.stall_timeout,
        )

    async def deliver(self, sid: str, frame: bytes, *, data: bool) -> None:
        await self.outbox.push(frame, sid if data else None)

    def caller(self, user: str | None, via_browser: bool) -> Caller:
        """Who sent an action over this link (made once per user, not per action)."""
        key = (user, via_browser)
        caller = self._callers.get(key)
        if caller is None:
            if len(self._callers) >= _MAX_CALLERS:
                self._callers.clear()
            caller = self._callers[key] = Caller(self.peer.kind, self.peer.name, user, via_browser)
        return caller


class ServerVortex(_VortexBase):
    """The server's vortex: providers and action processors of server plugins.

    ``journal`` records action ids (the server service wires a
    :class:`~peek.vortex.journal.FileActionJournal`).
    """

    kind = "server"

    def __init__(self, service_name: str, config: VortexConfig, journal: ActionJournal) -> None:
        super().__init__(service_name, config)
        self.journal = journal
        self._processors: dict[str, _Processor] = {}
        # Ids running now: their fingerprint and who else waits for their answer.
        self._running: dict[str, tuple[int, list[asyncio.Future[bytes]]]] = {}
        self._peers: dict[Peer, _PeerSink] = {}
        self.executed = 0  # processors run by this process (for tests and status)

    def attach(self, link: LinkServer) -> None:
        """Serve vortex messages from linked services."""
        link.on("sub", self._on_sub)
        link.on("unsub", self._on_unsub)
        link.on("act", self._on_act)
        link.on("ping", self._on_ping)

    def handle_actions(self, key: str, handler: ActionHandler, *, anonymous: bool = False) -> None:
        split_key(key)
        self._processors[key] = _Processor(handler, anonymous)

    async def action(
        self,
        action: Tuple,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
        action_id: str | None = None,
    ) -> list[Tuple]:
        action_id = action_id or secrets.token_hex(16)
        header: dict[str, Any] = {"t": "act", "id": action_id, "key": tuple_name(type(action))}
        if timeout is not None:
            header["timeout"] = timeout
        frame = decode_frame(
            encode_frame(header, self.registry.encode([action])), self.config.max_frame
        )
        caller = Caller("server", self.service_name)
        wait = timeout if timeout is not None else self.config.action_timeout
        try:
            async with asyncio.timeout(wait):
                reply = await self.process_action(frame, caller)
        except TimeoutError:
            raise ActionTimeout(action_id, wait) from None
        return _reply_tuples(self.registry, decode_frame(reply, self.config.max_frame), self.config)

    def peer_gone(self, peer: Peer) -> None:
        """Forget a linked service that disconnected (its subscriptions end)."""
        sink = self._peers.pop(peer, None)
        if sink is not None:
            sink.outbox.close()
            self.drop_sink(sink)

    def _sink(self, peer: Peer) -> _PeerSink:
        sink = self._peers.get(peer)
        if sink is None:
            sink = self._peers[peer] = _PeerSink(peer, self.config)
        return sink

    async def _on_sub(self, peer: Peer, message: Message) -> None:
        try:
            plugin, key, selector = _routing(message)
        except FrameError as exc:
            log.warning("refused a subscription from %s %s: %s", peer.kind, peer.name, exc)
            await self._sink(peer).deliver("", error_frame(exc.code, exc.reason), data=False)
            return
        sink = self._sink(peer)
        if message.get("browser") is not True:
            await self.subscribe(sink, plugin, key, selector, Caller(peer.kind, peer.name))
            return
        # On a browser's behalf: authorise its user, answer ``allow`` or ``err``
        # (both naming the user), then share the service's one subscription.
        user = message.get("user")
        caller = Caller(peer.kind, peer.name, user if isinstance(user, str) else None, True)
        verdict = {"browser": True, "user": caller.user}
        sid = selector_id(plugin, key, selector)
        provider = self._providers.get(key)
        if provider is None:
            await self.subscribe(sink, plugin, key, selector, caller)  # answers no_handler
            return
        probe = self._subs.get(sid) or _Sub(sid, plugin, key, selector)
        refusal = await self._authorise(provider, probe, caller, **verdict)
        if refusal is not None:
            await sink.deliver(sid, refusal, data=False)
            return
        allow = encode_frame({"t": "allow", **probe.routing(), **verdict})
        await sink.deliver(sid, allow, data=False)
        sub = self._subs.get(sid)
        if sub is None or sink not in sub.sinks:
            await self.subscribe(sink, plugin, key, selector, caller, authorised=True)

    async def _on_unsub(self, peer: Peer, message: Message) -> None:
        try:
            plugin, key, selector = _routing(message)
        except FrameError:
            return
        sink = self._peers.get(peer)
        if sink is not None:
            self.unsubscribe(sink, selector_id(plugin, key, selector))

    async def _on_ping(self, peer: Peer, message: Message) -> None:
        await self._sink(peer).deliver("", encode_frame({"t": "pong"}), data=False)

    async def _on_act(self, peer: Peer, message: Message) -> None:
        frame = message.frame
        if frame is None:
            await self._answer(peer, error_frame("malformed", "an action is a vortex frame"))
            return
        header = frame.header
        user = header.get("user")
        sink = self._sink(peer)
        caller = sink.caller(user if isinstance(user, str) else None, header.get("browser") is True)
        # A synchronous processor runs right here, as a task would run it
        # anyway without yielding; anything that waits (an async processor,
        # joining a run of the same id) gets a task of its own, so that a slow
        # processor does not hold up the link's other messages.
        outcome = await self._start_action(frame, caller)
        if isinstance(outcome, bytes):
            await self._answer(peer, outcome)
        else:
            self._spawn(self._answer_later(peer, outcome), f"action from {peer.kind} {peer.name}")

    async def _answer_later(self, peer: Peer, outcome: Awaitable[bytes]) -> None:
        await self._answer(peer, await outcome)

    async def _answer(self, peer: Peer, reply: bytes) -> None:
        await self._sink(peer).outbox.push(reply)

    async def process_action(self, frame: Frame, caller: Caller) -> bytes:
        """Run the action in ``frame`` once; the reply or error frame (already journaled)."""
        outcome = await self._start_action(frame, caller)
        return outcome if isinstance(outcome, bytes) else await outcome

    async def _start_action(self, frame: Frame, caller: Caller) -> bytes | Awaitable[bytes]:
        """The answer of an action whose processor did not wait; else what finishes it."""
        header = frame.header
        action_id = header.get("id")
        if not isinstance(action_id, str) or not 0 < len(action_id) <= MAX_ACTION_ID:
            return error_frame("malformed", f"an action needs an id of 1-{MAX_ACTION_ID} chars")
        key: Any = header.get("key")
        # A key with a processor is a valid tuple name (handle_actions checked
        # it); only a header naming more than its key needs the whole check.
        processor = self._processors.get(key) if isinstance(key, str) else None
        try:
            if processor is None or "plugin" in header or "selector" in header:
                _, key, _ = _routing(header)
            payload = frame.payload(self.config.max_frame)
        except FrameError as exc:
            return error_frame(exc.code, exc.reason, id=action_id)
        if processor is None:
            return error_frame("no_handler", f"nothing processes {key}", id=action_id)
        if caller.via_browser and caller.user is None and not processor.anonymous:
            return error_frame("unauthenticated", f"log in to send {key}", id=action_id)
        try:
            tuples = self.registry.decode(payload)
        except UnknownTuple as exc:
            return error_frame("unknown_tuple", str(exc), id=action_id)
        except FrameError as exc:
            return error_frame(exc.code, exc.reason, id=action_id)
        if len(tuples) != 1 or type(tuples[0]) is not self.registry.get(key):
            return error_frame("malformed", f"the body must hold one {key}", id=action_id)

        # What tells a retry (the same sender, id and action) from another
        # action under a used id (``conflict``). The payload names its tuple,
        # which was checked to be ``key``, so it identifies the action; the
        # sender is part of it so that nobody who learns another's id gets
        # that sender's stored reply (a browser user is the same sender
        # through any client, after any re-login). A 64-bit BLAKE2b digest:
        # as cheap as a CRC here, and no one can make a payload to match
        # another's (a chance collision between two different actions under
        # one id is 1 in 2**64).
        digest = hashlib.blake2b(_sender(caller), digest_size=8)
        digest.update(payload)
        fingerprint = int.from_bytes(digest.digest())
        running = self._running.get(action_id)
        if running is not None:
            if running[0] != fingerprint:
                return error_frame("conflict", "this id was used for another action", id=action_id)
            # The same id again while it runs (a resend after a reconnect): one answer for both.
            joined: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            running[1].append(joined)
            return _wait_for(joined)
        # Joiners of this id wait here until it is answered (a list, not a
        # future per action: almost every action finishes without any).
        self._running[action_id] = (fingerprint, [])
        try:
            # Claimed even for a processor that runs inline, with no await
            # before its answer: it may still write to a database (or a file)
            # and the process die before the answer is recorded; without the
            # claim, the retry would run it again instead of ``indeterminate``.
            try:
                claim = await self.journal.claim(action_id, fingerprint)
            except JournalError as exc:
                # Not run: once per id cannot be kept without the claim.
                log.error("action %s %s refused: %s", key, action_id, exc)
                reply = error_frame(
                    "unavailable",
                    "the server cannot record actions now; it was not run, send it again later",
                    id=action_id,
                )
                self._settle(action_id, reply)
                return reply
            if claim.state is ClaimState.NEW:
                self.executed += 1
                try:
                    result = processor.handler(tuples[0], caller)
                except Exception as exc:  # isolation boundary: one plugin's action processor
                    reply = self._processor_failed(exc, key, action_id)
                else:
                    if not isinstance(result, _SYNC_RESULTS) and (
                        asyncio.iscoroutine(result) or isinstance(result, asyncio.Future)
                    ):
                        timeout = _timeout(header.get("timeout"), self.config)
                        return self._finish(action_id, key, result, timeout)
                    reply = self._reply(result, key, action_id)
                await self._record(action_id, key, reply)
            else:
                reply = self._stored_answer(action_id, claim)
        except BaseException as exc:
            self._settle(action_id, exc)
            raise
        self._settle(action_id, reply)
        return reply

    async def _finish(
        self, action_id: str, key: str, pending: Awaitable[Any], limit: float
    ) -> bytes:
        """Wait for an async processor, journal its answer, tell any joiners."""
        try:
            try:
                async with asyncio.timeout(limit):
                    result = await pending
            except TimeoutError:
                reply = error_frame("timeout", f"the processor took over {limit:g} s", id=action_id)
            except Exception as exc:  # isolation boundary: one plugin's action processor
                reply = self._processor_failed(exc, key, action_id)
            else:
                reply = self._reply(result, key, action_id)
            await self._record(action_id, key, reply)
        except BaseException as exc:
            if isinstance(pending, asyncio.Future | asyncio.Task):
                pending.cancel()
            self._settle(action_id, exc)
            raise
        self._settle(action_id, reply)
        return reply

    async def _record(self, action_id: str, key: str, reply: bytes) -> None:
        """Journal the answer of an action that ran. If that fails the answer still goes
        out: a resend then gets ``indeterminate`` (claimed, never answered), not a second run."""
        try:
            await self.journal.complete(action_id, reply)
        except JournalError as exc:
            log.error("the answer of action %s %s is not recorded: %s", key, action_id, exc)

    def _reply(self, result: Any, key: str, action_id: str) -> bytes:
        try:
            body = self.registry.encode(_as_tuples(result))
        except Exception as exc:  # isolation boundary: what the processor returned
            return self._processor_failed(exc, key, action_id)
        return encode_frame(
            {"t": "reply", "id": action_id}, body, compress_over=self.config.compress_over
        )

    @staticmethod
    def _processor_failed(exc: Exception, key: str, action_id: str) -> bytes:
        if isinstance(exc, ActionError):
            return error_frame(exc.code, exc.message, id=action_id)
        log.error("processing %s %s failed", key, action_id, exc_info=exc)
        return error_frame("failed", f"the processor raised {type(exc).__name__}", id=action_id)

    @staticmethod
    def _stored_answer(action_id: str, claim: Claim) -> bytes:
        if claim.state is ClaimState.DONE:
            assert claim.reply is not None
            return claim.reply
        if claim.state is ClaimState.CONFLICT:
            return error_frame("conflict", "this id was used for another action", id=action_id)
        return error_frame(
            "indeterminate",
            "the server stopped while processing this action; it may have taken effect",
            id=action_id,
        )

    def _settle(self, action_id: str, outcome: bytes | BaseException) -> None:
        _, joiners = self._running.pop(action_id, (0, []))
        for joined in joiners:
            if joined.done():
                continue
            if isinstance(outcome, bytes):
                joined.set_result(outcome)
            else:
                joined.set_exception(outcome)
                joined.exception()  # retrieved: the joiner gets it, nobody else must


# -- clients, agents, workers -------------------------------------------------


@dataclass(eq=False)
class _Pending:
    frame: bytes  # as sent upstream (and again after a reconnect)
    deadline: float  # loop time past which no one waits
    waiters: list[_Waiter]


#: Where an action's answer goes: called with its ``reply`` or ``err`` frame.
ReplyTo = Callable[[bytes], Coroutine[Any, Any, None]]


class _Waiter:
    __slots__ = ("action_id", "deadline", "reply_to", "wait")

    def __init__(self, reply_to: ReplyTo, action_id: str, wait: float, deadline: float) -> None:
        self.reply_to = reply_to
        self.action_id = action_id
        self.wait = wait
        self.deadline = deadline


class UpstreamVortex(_VortexBase):
    """The vortex of a client, agent or worker: everything goes to the server over the link.

    Attach the link (:meth:`attach`) when it is made; until it connects,
    subscriptions and actions wait and are sent on connect.
    """

    def __init__(self, kind: str, service_name: str, config: VortexConfig) -> None:
        super().__init__(service_name, config)
        self.kind = kind
        self.link: LinkClient | None = None
        self._pending: dict[str, _Pending] = {}
        # The one timer that answers ``timeout`` to overdue actions (see _expire_overdue).
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_at = math.inf
        self.upstream_frames = 0  # data frames received from the server (tests, bench)

    def attach(self, link: LinkClient) -> None:
        self.link = link
        link.on("data", self._on_data)
        link.on("err", self._on_err)
        link.on("allow", self._on_allow)
        link.on("reply", self._on_reply)
        link.on("pong", lambda message: None)

    def handle_actions(self, key: str, handler: ActionHandler, *, anonymous: bool = False) -> None:
        raise VortexError(f"actions are processed on the server; {self.kind} cannot handle {key}")

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        await super().close()

    async def link_up(self) -> None:
        """The link (re)connected: restore every subscription and resend every action.

        Browser users are authorised again (the server may have changed its
        mind): their sinks wait for a fresh ``allow``.
        """
        for sub in list(self._subs.values()):
            if not sub.upstream:
                continue
            sub.allowed.clear()
            for sink in list(sub.sinks):
                if sink.browser:
                    del sub.sinks[sink]
                    sub.waiting.setdefault(sink.user, {})[sink] = None
            if sub.sinks or not sub.waiting:
                await self._send({"t": "sub", **sub.routing()})
            for user in list(sub.waiting):
                await self._send_browser_sub(sub, user)
        now = asyncio.get_running_loop().time()
        for action_id, pending in list(self._pending.items()):
            if pending.deadline <= now:
                continue
            await self._send_frame(pending.frame, f"action {action_id}")

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_frame(encode_frame(message), str(message.get("t")))

    async def _send_frame(self, frame: bytes, what: str) -> None:
        link = self.link
        if link is None or not link.connected.is_set():
            return  # sent by link_up() on connect
        try:
            await link.send_frame(frame)
        except LinkDown as exc:
            log.debug("%s waits for the link: %s", what, exc)

    async def _join_upstream(self, sub: _Sub, sink: Sink, caller: Caller) -> None:
        opened = sub.upstream
        sub.upstream = True
        if not caller.via_browser:
            sub.sinks[sink] = None
            if not opened:
                await self._send({"t": "sub", **sub.routing()})
            elif sub.frame is not None:
                await sink.deliver(sub.sid, sub.frame, data=True)
            return
        if caller.user in sub.allowed:  # the server said yes to this user already
            sub.sinks[sink] = None
            if sub.frame is not None:
                await sink.deliver(sub.sid, sub.frame, data=True)
            return
        waiting = sub.waiting.setdefault(caller.user, {})
        asked = bool(waiting)
        waiting[sink] = None
        if not asked:
            await self._send_browser_sub(sub, caller.user)

    async def _send_browser_sub(self, sub: _Sub, user: str | None) -> None:
        message: dict[str, Any] = {"t": "sub", **sub.routing(), "browser": True, "user": user}
        await self._send(message)

    def _verdict(self, message: Message) -> tuple[_Sub, str | None] | None:
        """The subscription and user that a server's ``allow``/``err`` names, if still live."""
        try:
            plugin, key, selector = _routing(message)
        except FrameError:
            return None
        sub = self._subs.get(selector_id(plugin, key, selector))
        user = message.get("user")
        if sub is None or not sub.upstream or not isinstance(user, str | None):
            return None
        return sub, user

    async def _on_allow(self, message: Message) -> None:
        found = self._verdict(message)
        if found is None:
            return
        sub, user = found
        sub.allowed.add(user)
        for sink in sub.waiting.pop(user, {}):
            sub.sinks[sink] = None
            if sub.frame is not None:
                await sink.deliver(sub.sid, sub.frame, data=True)

    def _close_upstream(self, sub: _Sub) -> None:
        self._spawn(self._send({"t": "unsub", **sub.routing()}), f"unsub {sub.key}")

    async def _on_data(self, message: Message) -> None:
        frame = message.frame
        if frame is None:
            return
        self.upstream_frames += 1
        try:
            plugin, key, selector = _routing(message)
        except FrameError as exc:
            log.warning("dropped data from the server: %s", exc)
            return
        sub = self._subs.get(selector_id(plugin, key, selector))
        if sub is None or not sub.upstream:
            return  # torn down meanwhile; its unsub is on the way
        sub.anonymous = message.get("anon") is True
        await self._publish(sub, frame.data)

    async def _on_err(self, message: Message) -> None:
        action_id = message.get("id")
        if isinstance(action_id, str):
            await self._on_reply(message)
            return
        try:
            plugin, key, selector = _routing(message)
        except FrameError:
            log.warning("the server reported %s: %s", message.get("code"), message.get("msg"))
            return
        if message.get("browser") is True:  # one user refused; the others keep watching
            found = self._verdict(message)
            if found is not None:
                watched, user = found
                watched.allowed.discard(user)
                refused = watched.waiting.pop(user, {})
                frame = error_frame(
                    str(message.get("code")), str(message.get("msg")), **watched.routing()
                )
                for sink in refused:
                    await sink.deliver(watched.sid, frame, data=False)
                self._idle(watched)
            return
        sub = self._subs.get(selector_id(plugin, key, selector))
        if sub is not None and sub.upstream:
            await self._fail_sub(sub, str(message.get("code")), str(message.get("msg")))

    async def _on_reply(self, message: Message) -> None:
        frame = message.frame
        pending = self._pending.pop(str(message.get("id")), None)
        if pending is None or frame is None:
            return
        for waiter in pending.waiters:
            await waiter.reply_to(frame.data)

    async def send_action(
        self,
        frame: Frame,
        reply_to: ReplyTo,
        *,
        user: str | None,
        browser: bool,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
    ) -> None:
        """Send a browser's (or a local plugin's) action upstream; its answer goes to ``reply_to``.

        The action is resent after every reconnect until answered; past its
        timeout ``reply_to`` gets an ``err`` frame with code ``timeout``.
        Nothing waits here for the answer: a relay needs no task per action.
        """
        header = frame.header
        action_id = header.get("id")
        if not isinstance(action_id, str) or not 0 < len(action_id) <= MAX_ACTION_ID:
            await reply_to(
                error_frame("malformed", f"an action needs an id of 1-{MAX_ACTION_ID} chars")
            )
            return
        wait = _timeout(header.get("timeout") if timeout is None else timeout, self.config)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        pending = self._pending.get(action_id)
        new = pending is None
        if pending is None:
            # The header gains who it is for; the body travels as it came.
            routed = dict(header)
            routed.pop("user", None)
            routed["timeout"] = wait
            routed["browser"] = browser
            if user is not None:
                routed["user"] = user
            out = encode_frame(routed, frame.body, flags=frame.flags)
            pending = self._pending[action_id] = _Pending(out, deadline, [])
        else:
            pending.deadline = max(pending.deadline, deadline)
        pending.waiters.append(_Waiter(reply_to, action_id, wait, deadline))
        if deadline < self._sweep_at:
            self._sweep_at = deadline
            if self._sweep is not None:
                self._sweep.cancel()
            self._sweep = loop.call_at(deadline, self._expire_overdue)
        link = self.link
        if new and link is not None and link.connected.is_set():  # else sent by link_up()
            try:
                await link.send_frame(pending.frame)
            except LinkDown as exc:
                log.debug("action %s waits for the link: %s", action_id, exc)

    def _expire_overdue(self) -> None:
        """Answer ``timeout`` to every waiter past its deadline; wake up again at the next one.

        One timer for all actions in flight, set to the earliest deadline
        (with equal timeouts, a new action never moves it): no timer to make
        and cancel per action.
        """
        self._sweep = None
        self._sweep_at = math.inf
        loop = asyncio.get_running_loop()
        now = loop.time() + _TIMER_SLACK
        upcoming = math.inf
        for action_id, pending in list(self._pending.items()):
            for waiter in list(pending.waiters):
                if waiter.deadline > now:
                    upcoming = min(upcoming, waiter.deadline)
                    continue
                pending.waiters.remove(waiter)
                frame = error_frame(
                    "timeout",
                    f"no answer within {waiter.wait:g} s; it may still run:"
                    " resend with the same id",
                    id=action_id,
                )
                self._spawn(waiter.reply_to(frame), f"timeout of action {action_id}")
            if not pending.waiters:
                del self._pending[action_id]
        if upcoming < math.inf:
            self._sweep_at = upcoming
            self._sweep = loop.call_at(upcoming, self._expire_overdue)

    async def forward_action(
        self,
        frame: Frame,
        *,
        user: str | None,
        browser: bool,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
    ) -> bytes:
        """:meth:`send_action`, waiting for the reply or error frame."""
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def reply_to(data: bytes) -> None:
            if not answer.done():
                answer.set_result(data)

        await self.send_action(frame, reply_to, user=user, browser=browser, timeout=timeout)
        return await answer

    async def action(
        self,
        action: Tuple,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
        action_id: str | None = None,
    ) -> list[Tuple]:
        action_id = action_id or secrets.token_hex(16)
        header = {"t": "act", "id": action_id, "key": tuple_name(type(action))}
        frame = decode_frame(
            encode_frame(header, self.registry.encode([action])), self.config.max_frame
        )
        wait = _timeout(timeout, self.config)
        reply = decode_frame(
            await self.forward_action(frame, user=None, browser=False, timeout=wait),
            self.config.max_frame,
        )
        if reply.header.get("code") == "timeout" and reply.type == "err":
            raise ActionTimeout(action_id, wait)
        return _reply_tuples(self.registry, reply, self.config)


def _sender(caller: Caller) -> bytes:
    """Who an action is from, for its fingerprint: a browser user, or a service."""
    if caller.via_browser:
        return b"browser\0" + (caller.user or "").encode()
    return f"service\0{caller.service_kind}\0{caller.service_name}".encode()


async def _wait_for(joined: asyncio.Future[bytes]) -> bytes:
    return await joined


def _timeout(value: Any, config: VortexConfig) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(float(value), config.max_action_timeout)
    return config.action_timeout


def _as_tuples(result: Any) -> list[Tuple]:
    if result is None:
        return []
    if isinstance(result, Tuple):
        return [result]
    if isinstance(result, Sequence) and all(isinstance(item, Tuple) for item in result):
        return list(result)
    raise TypeError(f"an action processor returns tuples or None, not {type(result).__name__}")


def _reply_tuples(registry: TupleRegistry, reply: Frame, config: VortexConfig) -> list[Tuple]:
    header = reply.header
    if reply.type == "err":
        raise ActionError(str(header.get("code")), str(header.get("msg")), header.get("id"))
    try:
        return registry.decode(reply.payload(config.max_frame))
    except TupleError as exc:
        raise ActionError("unknown_tuple", str(exc), header.get("id")) from None
    except FrameError as exc:
        raise ActionError(exc.code, exc.reason, header.get("id")) from None
