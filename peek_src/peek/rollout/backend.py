"""The host backend: how one host prepares, switches to and rolls back a generation.

The switch protocol (server and services talking over their link) decides
*when*; a :class:`HostBackend` does *how* on one host. Every service host
runs the same sequence for a proposed generation::

    prepared = backend.prepare(generation, fetch)   # beside the running one
    backend.import_check(generation)                 # in a child interpreter
    ... report ready; wait for the server's commit ...
    backend.switch(generation.number)                # atomic
    ... start the new plugin set; report health ...
    backend.rollback(previous)                       # if any service failed

and at start a service asks :meth:`HostBackend.active` which generation to
run, after :meth:`HostBackend.recover` has cleaned what a crash left.

Rules every backend keeps (the protocol relies on them):

- ``prepare`` never touches what the running generation uses; preparing the
  same generation twice is harmless; a different manifest under a number
  already prepared is refused (:class:`~peek.rollout.errors.GenerationConflict`).
- ``switch`` and ``rollback`` are atomic: after a crash at any point the
  host runs either the old or the new generation completely, never a mix,
  and :meth:`HostBackend.active` says which.
- Nothing here talks to the network: artifacts come through the
  :class:`ArtifactFetcher` the caller passes, which returns a local,
  SHA-256-verified wheel (on the server, straight from the
  :class:`~peek.rollout.artifacts.ArtifactStore`; elsewhere after a download
  into the host's own store).
- All methods are blocking; services call them in an executor.

Two backends implement it. The plain-host backend
(:class:`peek.rollout.backends.plain.PlainHostBackend`) installs each plugin
version into its own directory and composes generations from them. The
NixOS backend (the appliance issue) maps the same calls onto its flake:
``prepare`` writes the generation lock and the wheels (by SHA-256) into the
system flake directory and builds the system without activating it
(``Prepared.location`` is the built store path, ``plugin_paths`` empty,
``restart_required`` true); ``import_check`` imports the plugins with the
built closure's interpreter; ``switch`` asks the root oneshot unit to
``switch-to-configuration test`` (units restart on the new closure) and to
make it the boot default once healthy; ``rollback`` switches to the
previous system generation; ``active`` reads the generation the current
system was built from.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from peek.rollout.generations import Generation, GenerationPlugin

__all__ = ["ArtifactFetcher", "HostBackend", "Prepared"]


ArtifactFetcher = Callable[[GenerationPlugin], Path]
"""Returns a local wheel file for a plugin whose SHA-256 is ``plugin.sha256``.

Raises :class:`~peek.rollout.errors.ArtifactError` (or another
:class:`~peek.rollout.errors.RolloutError`) when it cannot. Backends check
the hash again before installing.
"""


@dataclass(frozen=True)
class Prepared:
    """A generation ready to be switched to on this host.

    ``location`` is where it lives (plain: the generation directory; NixOS:
    the built system). ``plugin_paths`` are the directories a process puts
    on ``sys.path`` to run it (empty where the service restarts into it).
    ``installed`` names the plugins installed by this call, ``reused`` those
    whose install from an earlier generation was reused.
    ``restart_required``: the service must restart into this generation
    rather than swap plugins in-process.
    """

    generation: int
    location: str
    plugin_paths: tuple[Path, ...]
    installed: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()
    restart_required: bool = False


class HostBackend(abc.ABC):
    """Prepare, switch and roll back generations on this host. Blocking methods."""

    name: str = "abstract"

    @abc.abstractmethod
    def prepare(self, generation: Generation, fetch: ArtifactFetcher) -> Prepared:
        """Install ``generation`` beside the running one, fetching the artifacts it lacks."""

    @abc.abstractmethod
    def import_check(self, generation: Generation) -> None:
        """Import every plugin of the prepared ``generation`` in a child interpreter.

        Raises :class:`~peek.rollout.errors.ImportCheckFailed` naming the
        plugin and module, or :class:`~peek.rollout.errors.GenerationNotPrepared`.
        """

    @abc.abstractmethod
    def switch(self, generation: int) -> None:
        """Make the prepared generation ``generation`` the active one, atomically."""

    @abc.abstractmethod
    def rollback(self, to_generation: int) -> None:
        """Make the earlier, still prepared generation ``to_generation`` active again."""

    @abc.abstractmethod
    def active(self) -> int | None:
        """The active generation's number; None before the first switch."""

    @abc.abstractmethod
    def prepared(self) -> Sequence[int]:
        """The generations prepared on this host (including the active one), ascending."""

    @abc.abstractmethod
    def recover(self) -> None:
        """Remove what an interrupted prepare or switch left; call at service start."""

    @abc.abstractmethod
    def prune(self, keep: Sequence[int]) -> None:
        """Forget prepared generations not in ``keep`` (never the active one) and their files."""
