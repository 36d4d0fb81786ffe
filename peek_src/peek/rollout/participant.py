"""One service's side of the switch protocol: prepare, switch, revert, report.

Every service (the server too) runs a :class:`Participant` around its
:class:`~peek.rollout.backend.HostBackend` and an :class:`Applier`, the
service's way of running a plugin set (swapping changed plugins inside the
process). The coordinator (:mod:`peek.rollout.coordinator`) drives it:

1. :meth:`Participant.prepare`: the backend installs the generation beside
   the running one (fetching the artifacts it lacks) and import-checks it in
   a child interpreter. Nothing that runs changes.
2. :meth:`Participant.switch`: the backend switches atomically, then the
   applier swaps the changed plugins and reports :class:`Health`; or, if a
   changed plugin cannot be swapped in-process here (native code in its
   wheel, ``restart = true`` in its ``plugin.toml``), it answers
   :data:`RESTART` and the service exits with :data:`RESTART_EXIT_CODE` to
   come back up on the new generation.
3. :meth:`Participant.revert`: the same towards the previous generation,
   after another service failed.

Progress goes to ``report(step, generation, detail)`` as it happens.
Must be used from the event loop; backend work runs in the executor.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from peek.config import ServiceKind
from peek.rollout.backend import ArtifactFetcher, HostBackend
from peek.rollout.errors import RolloutError
from peek.rollout.generations import Generation, changed_plugins

__all__ = [
    "RESTART",
    "RESTART_EXIT_CODE",
    "Applier",
    "Health",
    "Participant",
    "Report",
    "Restart",
]

log = logging.getLogger(__name__)

# A service that must restart into a new generation exits with this code
# (EX_TEMPFAIL): `peek run` restarts it at once, systemd's Restart=on-failure too.
RESTART_EXIT_CODE: Final = 75

Restart = Literal["restart"]
RESTART: Final[Restart] = "restart"

Report = Callable[[str, int, str | None], Awaitable[None]]


@dataclass(frozen=True)
class Health:
    """Whether every plugin of a generation that runs on a service started there."""

    ok: bool
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": list(self.problems)}

    @classmethod
    def from_json(cls, data: Any) -> Health | None:
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            return None
        problems = data.get("problems")
        return cls(data["ok"], tuple(str(p) for p in problems or ()))


class Applier(Protocol):
    """How a service runs a plugin set (implemented by the services layer)."""

    def running(self) -> Generation | None:
        """The generation the service runs now (None: the environment's plugins, unmanaged)."""
        ...

    async def apply(self, generation: Generation, *, reverting: Generation | None = None) -> Health:
        """Run ``generation`` (already switched to on disk), swapping what changed in-process.

        ``reverting`` is the failed generation being left, when going back.
        """
        ...


class Participant:
    """Prepares, switches and reverts generations on one service (see the module)."""

    def __init__(
        self,
        kind: ServiceKind,
        backend: HostBackend,
        fetch: ArtifactFetcher,
        applier: Applier,
        report: Report,
    ) -> None:
        self.kind: ServiceKind = kind
        self.backend = backend
        self.fetch = fetch
        self.applier = applier
        self.report = report
        # One protocol step at a time on this service, in the order asked.
        self.lock = asyncio.Lock()

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    async def prepare(self, generation: Generation) -> None:
        """Install and import-check ``generation`` beside the running one; raises
        :class:`~peek.rollout.errors.RolloutError` with the reason it cannot."""
        n = generation.number
        await self.report("preparing", n, None)
        prepared = await self._blocking(self.backend.prepare, generation, self.fetch)
        await self._blocking(self.backend.import_check, generation)
        detail = None
        if prepared.installed:
            detail = "installed " + ", ".join(prepared.installed)
        await self.report("prepared", n, detail)

    def restart_needed(self, generation: Generation, old: Generation | None = None) -> list[str]:
        """The changed plugins that run here and cannot be swapped in-process."""
        old = old if old is not None else self.applier.running()
        found = []
        for name in sorted(changed_plugins(old, generation)):
            for gen in (old, generation):
                plugin = gen.plugins.get(name) if gen is not None else None
                if plugin is not None and self.kind in plugin.hooks and plugin.needs_restart:
                    found.append(name)
                    break
        return found

    async def switch(self, generation: Generation) -> Health | Restart:
        """Switch to the prepared ``generation`` and run it; :data:`RESTART` if the service
        must restart into it (it is switched to on disk already)."""
        n = generation.number
        await self._blocking(self.backend.switch, n)
        return await self._run(generation, None)

    async def revert(self, to: Generation, leaving: Generation | None) -> Health | Restart:
        """Go back to ``to`` (preparing it again if this host lost it) and run it."""
        if to.number not in await self._blocking(self.backend.prepared):
            await self.prepare(to)
        await self._blocking(self.backend.rollback, to.number)
        return await self._run(to, leaving)

    async def converge(self, generation: Generation) -> Health | Restart:
        """Bring a service that runs another generation to ``generation``: prepare, switch, run."""
        running = self.applier.running()
        if running is not None and running.digest() == generation.digest():
            return Health(True)
        await self.prepare(generation)
        await self._blocking(self.backend.switch, generation.number)
        return await self._run(generation, None)

    async def _run(self, generation: Generation, leaving: Generation | None) -> Health | Restart:
        n = generation.number
        old = self.applier.running()
        await self.report("switched", n, None)
        restart = self.restart_needed(generation, old)
        if restart:
            await self.report("restarting", n, "cannot swap in-process: " + ", ".join(restart))
            return RESTART
        health = await self.applier.apply(generation, reverting=leaving)
        if health.ok:
            await self.report("healthy", n, None)
        else:
            await self.report("unhealthy", n, "; ".join(health.problems))
        return health

    @staticmethod
    def problem(exc: BaseException) -> str:
        """What to tell the coordinator about a failed step."""
        if isinstance(exc, RolloutError):
            return str(exc)
        return f"{type(exc).__name__}: {exc}"


def health_of(problems: Sequence[str]) -> Health:
    return Health(not problems, tuple(problems))
