"""The switch protocol, on the server: every service switches to a generation, or none does.

For a proposed generation the :class:`RolloutCoordinator` (one per server):

1. records it as proposed and in flight (``preparing``) in the database;
2. asks every connected service over its link to prepare it
   (``rollout.prepare``) and prepares it itself; each answers
   ``rollout.ready`` (or why not) within ``prepare_timeout``. A service that
   is down (it was connected once, even before a server restart, and is
   gone: ``down_services``), disconnects, refuses or does
   not answer in time aborts the rollout everywhere (``rollout.abort``):
   nothing switched, the generation is ``failed`` with the reasons;
3. commits: the database's pointer moves to the new generation (phase
   ``committed``, generation ``prepared``), the server switches and runs it
   (migrations first), and every service is told ``rollout.commit``;
4. waits ``health_timeout`` for every service's ``rollout.health`` (every
   plugin of the generation that runs there started). A service that
   restarts into the generation (``rollout.progress`` step ``restarting``)
   reports health in its ``hello`` when it is back (on NixOS, where root's
   switch restarted it, a ``rollout.health`` once root answered: root's
   failure is that service's, ``running`` the generation root left it on);
5. marks it ``active``, or, if any service failed, reverts everyone to the
   previous generation (``rollout.revert``; the server undoes the failed
   generation's schema changes) and marks it ``failed`` with the reasons.

When a changed plugin cannot be swapped inside the running server (native
code, ``restart = true``) and the server can restart (``request_restart``),
step 3 differs: the coordinator records who takes part
(:class:`~peek.rollout.restart.PendingRestart`) and the phase ``restarting``,
switches the server's generation on disk and asks for the restart; the
restarted server calls :meth:`RolloutCoordinator.resume`, brings every
member to the generation (``rollout.converge`` as each reconnects), reports
its own health once its plugins started (:meth:`RolloutCoordinator.local_started`)
and goes on with step 4. Going back from such a generation restarts the
server again (phase ``reverting``): it comes up on the previous generation,
undoes the schema changes and the other services converge to it.

A server killed at any point is consistent on restart: :meth:`recover`
fails a generation that was still preparing, and reverts one that was
committed but not yet confirmed healthy (the database says which). Every
service that connects reports its generation in its ``hello``; one that
runs another generation than the active one is told to converge to it
(``rollout.converge``), so a service host that crashed, or missed a
rollout, ends up on the same generation as everyone else.

Progress is published as events (see :meth:`RolloutCoordinator.subscribe`)
for the admin page, the HTTP API's event stream and the CLI. Must be used
from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peek.rollout.errors import RolloutError
from peek.rollout.generations import Generation, GenerationState
from peek.rollout.history import GenerationHistory
from peek.rollout.participant import RESTART, Health, Participant
from peek.rollout.restart import PendingRestart
from peek.vortex.link import LinkServer, Message, Peer

__all__ = [
    "DEFAULT_HEALTH_TIMEOUT",
    "DEFAULT_PREPARE_TIMEOUT",
    "Rollout",
    "RolloutBusy",
    "RolloutCoordinator",
]

log = logging.getLogger(__name__)

DEFAULT_PREPARE_TIMEOUT = 300.0
DEFAULT_HEALTH_TIMEOUT = 30.0
# Finished rollouts kept in memory for late event-stream readers.
KEEP_FINISHED = 20
SERVER = "server"

Key = tuple[str, str]


class RolloutBusy(RolloutError):
    """Another rollout is in flight; one at a time."""

    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"generation {number} is being rolled out; try again when it is done")


@dataclass
class Rollout:
    """One generation on its way: who takes part, what each did, what came of it."""

    generation: Generation
    previous: Generation | None
    leaving: int | None
    members: dict[Key, str]
    phase: str = "preparing"
    state: str | None = None
    problems: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    waiters: dict[Key, asyncio.Future[list[str]]] = field(default_factory=dict)
    restarting: set[Key] = field(default_factory=set)
    expect: int = 0
    accepted_at: float = field(default_factory=time.monotonic)
    switched_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def number(self) -> int:
        return self.generation.number

    def as_json(self) -> dict[str, Any]:
        return {
            "generation": self.number,
            "phase": self.phase,
            "state": self.state,
            "problems": list(self.problems),
            "services": dict(self.steps),
        }


def label(key: Key) -> str:
    return f"{key[0]} {key[1]}"


class RolloutCoordinator:
    """Rolls generations out to every service (see the module)."""

    def __init__(
        self,
        history: GenerationHistory,
        local: Participant,
        link: LinkServer,
        *,
        server_name: str,
        down_services: Callable[[], list[Key]],
        prepare_timeout: float = DEFAULT_PREPARE_TIMEOUT,
        health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
        on_finished: Callable[[Rollout], Awaitable[None] | None] | None = None,
        request_restart: Callable[[], None] | None = None,
        restart_record: Path | None = None,
    ) -> None:
        self.history = history
        self.local = local
        self.link = link
        self.server_name = server_name
        self.down_services = down_services
        self.prepare_timeout = prepare_timeout
        self.health_timeout = health_timeout
        self._on_finished = on_finished
        # The server restarts into a generation only with both (see the module).
        self._request_restart = request_restart if restart_record is not None else None
        self._restart_record = restart_record
        self._local_health: asyncio.Future[list[str]] | None = None
        self.current: Rollout | None = None
        self.rollouts: dict[int, Rollout] = {}
        self.generations: dict[Key, int | None] = {}
        # None in a queue ends that event stream (the server stops).
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._active: Generation | None = None
        link.on("rollout.ready", self._on_ready)
        link.on("rollout.health", self._on_health)
        link.on("rollout.progress", self._on_progress)

    # -- starting --------------------------------------------------------------

    def set_active(self, generation: Generation) -> None:
        """What every service must run (at start, after recovery)."""
        self._active = generation

    @property
    def active(self) -> Generation | None:
        return self._active

    async def start(self, generation: Generation, *, leaving: int | None = None) -> Rollout:
        """Record ``generation`` (derived from the active one) and roll it out in the background.

        ``leaving`` is set for a rollback: that generation becomes ``rolled_back``
        once ``generation`` is healthy. Raises :class:`RolloutBusy`.
        """
        if self.current is not None:
            raise RolloutBusy(self.current.number)
        members = {key: label(key) for key in sorted(self.link.peers)}
        rollout = Rollout(generation, self._active, leaving, members)
        self.current = rollout
        try:
            await _blocking(self.history.propose, generation)
        except BaseException:
            self.current = None
            raise
        self.rollouts[generation.number] = rollout
        self._emit(rollout, SERVER, "proposed", generation.reason)
        self._spawn(self._run(rollout), f"rollout of generation {generation.number}")
        return rollout

    async def close(self) -> None:
        # Open event streams end, or the sites would wait for them when stopping;
        # one opened from now on ends after its backlog (a reader reconnecting
        # while the server stops reads again from whoever serves next).
        self._closed = True
        for queue in list(self._subscribers):
            queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    # -- the protocol ------------------------------------------------------------

    async def _run(self, r: Rollout) -> None:
        n = r.number
        try:
            down = [label(key) for key in self.down_services()]
            problems = [f"{who} is down" for who in down]
            if not problems:
                problems = await self._prepare(r)
            if problems:
                await self._abort(r, problems)
                return
            if self._restart_needed(r.generation):
                await self._restart_into(r)
                return
            await _blocking(self.history.commit, n)
            self._emit(r, SERVER, "committed", None)
            problems = await self._switch(r)
            if problems:
                await self._revert(r, problems)
                return
            await self._succeed(r)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # isolation boundary: one rollout
            log.exception("the rollout of generation %d failed", n)
            problem = f"the server failed during the rollout: {type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # already failing: report what we can
                if r.phase == "preparing":
                    await self._abort(r, [problem])
                else:
                    await self._revert(r, [problem])
            if r.state is None:
                r.state = GenerationState.FAILED.value
                r.problems.append(problem)
                self._finish(r)

    async def _succeed(self, r: Rollout) -> None:
        await _blocking(self.history.succeed, r.number, leaving=r.leaving)
        await self._clear_restart_record()
        self._active = r.generation
        r.state = GenerationState.ACTIVE.value
        self._finish(r)

    # -- a server that restarts into a generation ----------------------------------

    def _restart_needed(self, generation: Generation) -> bool:
        return self._request_restart is not None and bool(self.local.restart_needed(generation))

    async def _restart_into(self, r: Rollout) -> None:
        """Commit with the server restarting into ``r``'s generation (see the module)."""
        assert self._request_restart is not None and self._restart_record is not None
        n = r.number
        previous = r.previous.number if r.previous is not None else None
        record = PendingRestart(n, previous, r.leaving, tuple(sorted(r.members)))
        # Who takes part is on disk before the database says a restart is pending.
        await _blocking(record.write, self._restart_record)
        await _blocking(self.history.commit, n, restart=True)
        self._emit(r, SERVER, "committed", "the server restarts into it")
        r.phase = "switching"
        r.expect = n
        try:
            async with self.local.lock:
                await self.local.switch(r.generation)
        except Exception as exc:  # isolation boundary: the switch on disk failed
            log.exception("the server could not switch to generation %d", n)
            await self._revert(r, [f"server: {Participant.problem(exc)}"])
            return
        r.phase = "restarting"
        log.warning("the server restarts into plugin generation %d", n)
        self._request_restart()

    async def resume(
        self, pending: PendingRestart, generation: Generation, previous: Generation | None
    ) -> Rollout:
        """On the restarted server (before it accepts links): finish ``generation``'s rollout.

        Every member that reconnects is brought to ``generation``; the health
        phase starts once :meth:`local_started` reports the server's own.
        """
        self._active = previous
        members = {key: label(key) for key in pending.members}
        r = Rollout(generation, previous, pending.leaving, members, phase="switching")
        r.expect = generation.number
        r.switched_at = time.monotonic()
        loop = asyncio.get_running_loop()
        waits: dict[str, asyncio.Future[list[str]]] = {}
        for key, who in members.items():
            future: asyncio.Future[list[str]] = loop.create_future()
            r.waiters[key] = future
            waits[who] = future
        self._local_health = loop.create_future()
        self.current = r
        self.rollouts[r.number] = r
        self._emit(r, SERVER, "restarted", f"running generation {generation.number}")
        self._spawn(self._finish_restart(r, waits), f"rollout of generation {r.number}")
        return r

    def local_started(self, problems: list[str]) -> None:
        """The restarted server's plugins started: its own health (``problems``)."""
        r = self.current
        if self._local_health is None or self._local_health.done() or r is None:
            return
        self._emit(r, SERVER, "unhealthy" if problems else "healthy", "; ".join(problems) or None)
        self._local_health.set_result([f"server: {p}" for p in problems])

    async def _finish_restart(
        self, r: Rollout, waits: dict[str, asyncio.Future[list[str]]]
    ) -> None:
        assert self._local_health is not None
        try:
            problems = await self._local_health
            if not problems:
                problems = await self._gather(waits, self.health_timeout, "switch")
            if problems:
                await self._revert(r, problems)
                return
            await self._succeed(r)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # isolation boundary: one rollout
            log.exception("the rollout of generation %d failed", r.number)
            with contextlib.suppress(Exception):  # already failing: report what we can
                await self._revert(r, [f"the server failed during the rollout: {exc}"])

    async def _clear_restart_record(self) -> None:
        if self._restart_record is not None:
            await _blocking(PendingRestart.clear, self._restart_record)

    async def _prepare(self, r: Rollout) -> list[str]:
        n = r.number
        r.phase = "preparing"
        digest = r.generation.digest()
        waits = self._ask(r, {"t": "rollout.prepare", "gen": n, "digest": digest})
        waits[SERVER] = self._spawn(self._local_prepare(r), f"prepare generation {n}")
        return await self._gather(waits, self.prepare_timeout, "prepare")

    async def _local_prepare(self, r: Rollout) -> list[str]:
        try:
            async with self.local.lock:
                await self.local.prepare(r.generation)
        except Exception as exc:  # isolation boundary: reported as the server's reason
            return [f"server: {Participant.problem(exc)}"]
        return []

    async def _switch(self, r: Rollout) -> list[str]:
        n = r.number
        r.phase = "switching"
        r.expect = n
        waits = self._ask(r, {"t": "rollout.commit", "gen": n, "digest": r.generation.digest()})
        waits[SERVER] = self._spawn(self._local_switch(r), f"switch to generation {n}")
        return await self._gather(waits, self.health_timeout, "switch")

    async def _local_switch(self, r: Rollout) -> list[str]:
        try:
            async with self.local.lock:
                result = await self.local.switch(r.generation)
        except Exception as exc:  # isolation boundary: reported as the server's reason
            log.exception("the server could not switch to generation %d", r.number)
            return [f"server: {Participant.problem(exc)}"]
        r.switched_at = r.switched_at or time.monotonic()
        if result == RESTART:
            return ["server: the server cannot restart into a generation by itself"]
        assert isinstance(result, Health)
        return [f"server: {p}" for p in result.problems]

    async def _abort(self, r: Rollout, problems: list[str]) -> None:
        r.problems = list(problems)
        r.phase = "aborting"
        for key in r.members:
            peer = self.link.peers.get(key)
            if peer is not None:
                with contextlib.suppress(Exception):  # a peer that is gone needs no abort
                    await peer.send({"t": "rollout.abort", "gen": r.number})
        previous = r.previous.number if r.previous is not None else None
        await _blocking(self.history.fail, r.number, problems, active=previous)
        r.state = GenerationState.FAILED.value
        self._emit(r, SERVER, "aborted", "; ".join(problems))
        self._finish(r)

    async def _revert(self, r: Rollout, problems: list[str]) -> None:
        r.problems = list(problems)
        previous = r.previous
        self._emit(r, SERVER, "reverting", "; ".join(problems))
        if previous is not None and self._restart_needed(previous):
            # Back out of a generation the server restarted into: restart again. The
            # restarted server finds phase ``reverting`` and goes back, schemas included;
            # the other services converge to it as they reconnect.
            assert self._request_restart is not None
            await _blocking(self.history.revert_pending, r.number, problems)
            await self._clear_restart_record()
            r.phase = "restarting"
            self._emit(r, SERVER, "restarting", f"back to generation {previous.number}")
            self._request_restart()
            return
        await self._clear_restart_record()
        if previous is None:
            await _blocking(self.history.fail, r.number, problems, active=None)
        else:
            r.phase = "reverting"
            r.expect = previous.number
            message = {
                "t": "rollout.revert",
                "gen": previous.number,
                "digest": previous.digest(),
                "leaving": r.number,
            }
            waits = self._ask(r, message)
            waits[SERVER] = self._spawn(self._local_revert(r, previous), "revert")
            after = await self._gather(waits, self.health_timeout, "revert", stop_early=False)
            r.problems += [f"after going back to generation {previous.number}: {p}" for p in after]
            await _blocking(self.history.fail, r.number, problems, active=previous.number)
        r.state = GenerationState.FAILED.value
        self._finish(r)

    async def _local_revert(self, r: Rollout, previous: Generation) -> list[str]:
        try:
            async with self.local.lock:
                result = await self.local.revert(previous, r.generation)
        except Exception as exc:  # isolation boundary: reported with the failure
            log.exception("the server could not go back to generation %d", previous.number)
            return [f"server: {Participant.problem(exc)}"]
        if isinstance(result, Health):
            return [f"server: {p}" for p in result.problems]
        return []

    def _ask(self, r: Rollout, message: dict[str, Any]) -> dict[str, asyncio.Future[list[str]]]:
        """Send ``message`` to every member; a future per member for its answer."""
        loop = asyncio.get_running_loop()
        waits: dict[str, asyncio.Future[list[str]]] = {}
        r.restarting.clear()
        for key, who in r.members.items():
            future: asyncio.Future[list[str]] = loop.create_future()
            r.waiters[key] = future
            waits[who] = future
            peer = self.link.peers.get(key)
            if peer is None:
                future.set_result([f"{who} is not connected"])
                continue
            self._spawn(self._send(peer, message, future, who), f"send {message['t']} to {who}")
        return waits

    async def _send(
        self, peer: Peer, message: dict[str, Any], future: asyncio.Future[list[str]], who: str
    ) -> None:
        try:
            await peer.send(message)
        except Exception as exc:  # isolation boundary: one peer's socket
            if not future.done():
                future.set_result([f"{who} cannot be reached: {exc}"])

    async def _gather(
        self,
        waits: Mapping[str, asyncio.Future[list[str]]],
        limit: float,
        what: str,
        *,
        stop_early: bool = True,
    ) -> list[str]:
        """Every answer's problems; stops at the first failure unless ``stop_early`` is False."""
        pending = set(waits.values())
        problems: list[str] = []
        deadline = asyncio.get_running_loop().time() + limit
        while pending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            for future in done:
                problems += future.result()
            if problems and stop_early:
                return problems
        for who, future in waits.items():
            if future in pending:
                problems.append(f"{who} did not {what} within {limit:g} s")
                if who == SERVER:
                    future.cancel()
        return problems

    # -- link events ----------------------------------------------------------------

    def peer_connected(self, peer: Peer) -> None:
        hello = peer.hello
        generation = hello.get("generation")
        number = generation if isinstance(generation, int) else None
        self.generations[peer.key] = number
        r = self.current
        if r is not None and peer.key in r.members and r.phase in ("switching", "reverting"):
            waiter = r.waiters.get(peer.key)
            if waiter is not None and not waiter.done():
                health = Health.from_json(hello.get("health"))
                if number == r.expect and health is not None:
                    # Back from a restart into the generation, or reconnected after a drop.
                    self._emit(r, label(peer.key), "healthy" if health.ok else "unhealthy", None)
                    waiter.set_result([f"{label(peer.key)}: {p}" for p in health.problems])
                    return
                if number != r.expect and r.expect:
                    self._converge(peer, self._expected(r))
                return
        if r is not None:
            # Anyone else is brought in line once the rollout is over.
            return
        if self._active is not None and number != self._active.number:
            self._converge(peer, self._active)

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every connected service (one that is gone is skipped)."""
        for peer in list(self.link.peers.values()):
            with contextlib.suppress(Exception):  # a peer that is gone misses housekeeping
                await peer.send(message)

    def forget(self, key: Key) -> None:
        """A down service an administrator dropped: no longer tracked (it registers again
        when it reconnects, and is brought to the active generation then)."""
        self.generations.pop(key, None)

    def peer_disconnected(self, peer: Peer) -> None:
        r = self.current
        if r is None or peer.key not in r.members:
            return
        waiter = r.waiters.get(peer.key)
        if waiter is None or waiter.done() or peer.key in r.restarting:
            return
        waiter.set_result([f"{label(peer.key)} disconnected during the {r.phase}"])

    def _expected(self, r: Rollout) -> Generation:
        if r.phase == "reverting" and r.previous is not None:
            return r.previous
        return r.generation

    def _converge(self, peer: Peer, generation: Generation) -> None:
        log.info(
            "%s %s runs generation %s; bringing it to %d",
            peer.kind,
            peer.name,
            self.generations.get(peer.key),
            generation.number,
        )
        message = {"t": "rollout.converge", "gen": generation.number, "digest": generation.digest()}
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._spawn(self._send(peer, message, future, label(peer.key)), "converge")

    def _member(
        self, peer: Peer, message: Message
    ) -> tuple[Rollout, asyncio.Future[list[str]]] | None:
        r = self.current
        if r is None or peer.key not in r.members:
            return None
        waiter = r.waiters.get(peer.key)
        if waiter is None or waiter.done():
            return None
        return r, waiter

    def _on_ready(self, peer: Peer, message: Message) -> None:
        found = self._member(peer, message)
        if found is None:
            return
        r, waiter = found
        if r.phase != "preparing" or message.get("gen") != r.number:
            return
        if message.get("ok") is True:
            waiter.set_result([])
        else:
            waiter.set_result([f"{label(peer.key)}: {message.get('problem') or 'not ready'}"])

    def _on_health(self, peer: Peer, message: Message) -> None:
        number = message.get("gen")
        # ``running`` differs from ``gen`` when root switched a NixOS host back from it.
        running = message.get("running", number)
        if isinstance(running, int):
            self.generations[peer.key] = running
        health = Health.from_json(message.get("health"))
        found = self._member(peer, message)
        if found is None or health is None:
            return
        r, waiter = found
        if r.phase in ("switching", "reverting") and number == r.expect:
            if r.phase == "switching" and r.switched_at is None:
                r.switched_at = time.monotonic()
            waiter.set_result([f"{label(peer.key)}: {p}" for p in health.problems])

    def _on_progress(self, peer: Peer, message: Message) -> None:
        number = message.get("gen")
        r = self.rollouts.get(number) if isinstance(number, int) else None
        step = str(message.get("step", ""))
        detail = message.get("detail")
        if r is None:
            if self.current is not None and self.current.expect == message.get("gen"):
                r = self.current
            else:
                log.info("%s %s: %s %s", peer.kind, peer.name, step, detail or "")
                return
        if step == "restarting":
            r.restarting.add(peer.key)
        self._emit(r, label(peer.key), step, str(detail) if detail is not None else None)

    # -- events -----------------------------------------------------------------------

    def local_progress(self, step: str, number: int, detail: str | None) -> None:
        """The server's own participant reports here."""
        r = self.current if self.current is not None else self.rollouts.get(number)
        if r is not None:
            self._emit(r, SERVER, step, detail)

    def _emit(self, r: Rollout, who: str, step: str, detail: str | None, **extra: Any) -> None:
        event = {
            "generation": r.number,
            "service": who,
            "step": step,
            "detail": detail,
            "at": datetime.now(UTC).isoformat(),
            **extra,
        }
        if who != SERVER or step not in ("proposed", "committed", "aborted", "reverting"):
            r.steps[who] = step
        r.events.append(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)
        log.info("generation %d: %s %s%s", r.number, who, step, f" ({detail})" if detail else "")

    def _finish(self, r: Rollout) -> None:
        r.phase = "done"
        self._emit(
            r,
            SERVER,
            "done",
            "; ".join(r.problems) or None,
            state=r.state,
            problems=list(r.problems),
        )
        if self.current is r:
            self.current = None
        r.done.set()
        finished = sorted(n for n, x in self.rollouts.items() if x.done.is_set())
        for number in finished[:-KEEP_FINISHED]:
            del self.rollouts[number]
        if self._on_finished is not None:
            self._spawn(_maybe_await(self._on_finished, r), "rollout finished")
        # Whoever joined or fell behind meanwhile is brought to the active generation.
        active = self._active
        if active is not None:
            for key, peer in list(self.link.peers.items()):
                if self.generations.get(key) != active.number:
                    self._converge(peer, active)

    async def subscribe(self, number: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Events as they happen; with ``number``, that rollout's from its start until done."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        r = self.rollouts.get(number) if number is not None else None
        backlog = list(r.events) if r is not None else []
        self._subscribers.add(queue)
        try:
            for event in backlog:
                yield event
                if event["step"] == "done":
                    return
            if self._closed or (number is not None and r is None):
                return
            while True:
                item = await queue.get()
                if item is None:
                    return
                event = item
                if number is not None and event["generation"] != number:
                    continue
                yield event
                if number is not None and event["step"] == "done" and event["service"] == SERVER:
                    return
        finally:
            self._subscribers.discard(queue)

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: fn(*args, **kwargs))


async def _maybe_await(fn: Callable[..., Any], *args: Any) -> None:
    result = fn(*args)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result
