"""What plugins use of the vortex: ``ctx.resources.vortex`` (a :class:`VortexApi`).

The same API on every service; what each call does depends on where it runs:

- **observables** — the server answers ``observe`` with current data and
  pushes every update after ``notify``::

      # server, in load():
      vortex = ctx.resources.vortex
      vortex.register_tuples("weather", Reading, Refresh)
      vortex.provide("weather.Reading", self.current_readings)   # (selector) -> tuples
      ...
      vortex.notify("weather.Reading", {"station": "north"})    # after a change

      # agent / client / server, anywhere:
      sub = vortex.observe("weather.Reading", {"station": "north"}, on_update)
      ...
      sub.close()

  On a client, browsers watching the same selector share one upstream
  subscription. A client plugin that ``provide``\\ s a key replaces the
  server for that key on that client (its browsers are answered locally).

  Who may watch: data is per *selector*, never per caller (watchers of
  one selector share one value), so a selector that is private to someone
  must be guarded with an ``authorise(selector, caller)`` hook; it is asked
  once per (selector, browser user) -- the client caches a yes for as long
  as it keeps the subscription, and asks again after a reconnect::

      def may_watch(selector: Selector, caller: Caller) -> bool:
          return not caller.via_browser or caller.user == selector.get("user")

      vortex.provide("weather.Inbox", self.inbox, authorise=may_watch)

  A no is an ``err`` with code ``forbidden`` for that browser only.

- **actions** — ``await vortex.action(Refresh(station="north"))`` runs the
  owning plugin's processor on the server, exactly once per action id, and
  returns its reply tuples; errors raise :class:`ActionError`::

      vortex.handle_actions("weather.Refresh", self.refresh)     # server, in load()

      async def refresh(self, action: Refresh, caller: Caller) -> Reading: ...

Keys are tuple names, ``<plugin>.<Name>``; the plugin part routes the
message. Selectors are flat mappings of ``str`` to ``str``, ``int``,
``bool`` or ``None``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from peek.errors import PeekError
from peek.plugin.tuples import Tuple

__all__ = [
    "ActionError",
    "ActionHandler",
    "ActionTimeout",
    "Authoriser",
    "Caller",
    "ObservableHandler",
    "Observer",
    "Selector",
    "Subscription",
    "VortexApi",
    "VortexError",
]

Selector = Mapping[str, str | int | bool | None]

#: ``(selector) -> the current tuples`` (may be async).
ObservableHandler = Callable[[Selector], Sequence[Tuple] | Awaitable[Sequence[Tuple]]]
#: Called with every value of an observed selector (the first one included).
Observer = Callable[[list[Tuple]], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent an action or asks to watch a selector: the service that
    delivered it, and the browser user if any.

    ``user`` is the logged-in username for browsers (None when the handler
    allows anonymous use and nobody logged in), and None for services
    (agents, client or server plugins), whose ``via_browser`` is False.
    """

    service_kind: str
    service_name: str
    user: str | None = None
    via_browser: bool = False


#: ``(selector, caller) -> may this caller watch this selector?`` (may be async).
#: See :meth:`VortexApi.provide`.
Authoriser = Callable[[Selector, Caller], bool | Awaitable[bool]]

#: ``(action, caller) -> reply``: a tuple, a list of tuples, or None (may be async).
ActionHandler = Callable[
    [Any, Caller], Tuple | Sequence[Tuple] | Awaitable[Tuple | Sequence[Tuple] | None] | None
]


class VortexError(PeekError):
    """Base of the vortex errors plugins see."""


class ActionError(VortexError):
    """An action was refused or failed; ``code`` is the wire error code (see PROTOCOL.md).

    Codes: ``no_handler``, ``unauthenticated``, ``unknown_tuple``, ``malformed``,
    ``too_large``, ``failed`` (the processor raised), ``conflict`` (the id
    was used for another action), ``indeterminate`` (the server stopped while
    running it: it may or may not have taken effect), ``timeout``.
    """

    def __init__(self, code: str, message: str, action_id: str | None = None) -> None:
        self.code = code
        self.message = message
        self.action_id = action_id
        super().__init__(f"action {action_id or '?'} failed ({code}): {message}")


class ActionTimeout(ActionError, TimeoutError):
    """No reply within the timeout. The action may still run; retry with the same id."""

    def __init__(self, action_id: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__("timeout", f"no reply within {timeout:g} s", action_id)


class Subscription(Protocol):
    """A running ``observe``; :meth:`close` stops it (safe to call twice)."""

    def close(self) -> None: ...


class VortexApi(Protocol):
    """The vortex on one service; must be used from the event loop."""

    def register_tuples(self, plugin: str, *types: type[Tuple]) -> None:
        """Register ``plugin``'s tuple classes (names ``<plugin>.<Name>``) on this service.

        Raises ``peek.plugin.TupleDefinitionError`` for a bad name or field
        type, or a name registered already by another class.
        """
        ...

    def provide(
        self,
        key: str,
        handler: ObservableHandler,
        *,
        anonymous: bool = False,
        authorise: Authoriser | None = None,
    ) -> None:
        """Answer observers of ``key`` with ``handler(selector)``.

        ``anonymous`` lets browsers without a login watch it (otherwise they
        get ``unauthenticated`` before ``authorise`` is asked).
        ``authorise(selector, caller)``, if given, decides per caller whether
        it may watch ``selector``: False refuses that caller alone with
        ``forbidden``; raising refuses it with ``failed``. It is asked for
        every browser user (on the server, for subscriptions that clients
        make on a browser's behalf: the client caches a yes per selector and
        user while it holds the subscription) and for services
        (``caller.via_browser`` False). ``handler`` must not depend on the
        caller: every watcher of a selector gets the same value.
        """
        ...

    def notify(self, key: str, selector: Selector | None = None) -> None:
        """Push fresh data of ``key`` (one selector, or all of them) to every observer.

        Cheap to call often: updates are coalesced to the latest value.
        """
        ...

    def handle_actions(self, key: str, handler: ActionHandler, *, anonymous: bool = False) -> None:
        """Process actions whose tuple is named ``key`` (server only)."""
        ...

    def observe(self, key: str, selector: Selector, observer: Observer) -> Subscription:
        """Call ``observer`` with the current value of ``key``/``selector`` and every update."""
        ...

    async def action(
        self,
        action: Tuple,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it travels with the action
        action_id: str | None = None,
    ) -> list[Tuple]:
        """Send ``action`` to its plugin's processor on the server; its reply tuples.

        ``action_id`` (default: a fresh random id) makes retries safe: the
        server processes each id once and answers a repeat with the stored
        reply. Raises :class:`ActionError` or :class:`ActionTimeout`.
        """
        ...
