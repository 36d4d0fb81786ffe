"""The plain-host backend: plugin versions installed side by side, generations composed of them.

Layout below the data directory::

    plugins-installed/<name>/<version>-<sha12>/   one wheel, installed with PyPA installer
    generations/<n>/generation.json              the manifest (canonical JSON)
    generations/<n>/plugins.pth                  the plugin directories, one per line
    generations/current -> <n>                   the active generation (a symlink)

Each step makes something new under a temporary name and renames it into
place once complete, so nothing that exists is ever changed:

1. ``prepare`` installs every plugin version the generation lacks into
   ``.tmp-*`` beside its final directory, writes a ``.peek-install.json``
   marker last, flushes it to disk and renames it to ``<version>-<sha12>``;
   an install that is already there is reused, never touched.
2. It composes ``generations/.tmp-*`` (``plugins.pth`` with paths relative
   to the generation directory, then ``generation.json``) and renames it to
   ``generations/<n>``.
3. ``switch`` makes a new symlink under a temporary name and renames it over
   ``current`` (``rename(2)`` replaces it atomically).

The only mutable thing is the ``current`` link, and it only ever points at
a complete generation: a crash at any step leaves the old generation fully
active and at most some ``.tmp-*`` litter, which :meth:`PlainHostBackend.recover`
removes. Services sharing a data directory (``peek run``) serialise their
changes with a lock file (``flock``), so one service's recovery never
removes another's work in progress.

A service process calls :func:`activate_on_sys_path` at start, before
plugin discovery: it puts the active generation's plugin directories at the
front of ``sys.path``, so entry-point discovery finds exactly that
generation's versions (the discovery cache is keyed on ``sys.path``, so it
stays right across switches).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from peek.config import ServiceKind
from peek.rollout.backend import ArtifactFetcher, HostBackend, Prepared
from peek.rollout.errors import (
    ArtifactCorrupt,
    BackendError,
    GenerationConflict,
    GenerationError,
    GenerationNotPrepared,
)
from peek.rollout.fsutil import fsync_dir, fsync_tree, remove_path
from peek.rollout.generations import Generation, GenerationPlugin
from peek.rollout.hashing import sha256_file
from peek.rollout.wheels import DEFAULT_IMPORT_TIMEOUT, ImportTarget, import_check, install_wheel

__all__ = [
    "CURRENT_LINK",
    "GENERATION_FILE",
    "INSTALL_MARKER",
    "PLUGIN_PATH_FILE",
    "Activation",
    "PlainHostBackend",
    "activate_on_sys_path",
]

log = logging.getLogger(__name__)

INSTALLED_DIR = "plugins-installed"
GENERATIONS_DIR = "generations"
CURRENT_LINK = "current"
GENERATION_FILE = "generation.json"
PLUGIN_PATH_FILE = "plugins.pth"
INSTALL_MARKER = ".peek-install.json"
LOCK_FILE = ".lock"
_TMP_PREFIX = ".tmp-"
_LINK_PREFIX = ".current-"

Checkpoint = Callable[[str], None]


def _no_checkpoint(step: str) -> None:
    return None


class PlainHostBackend(HostBackend):
    """Generations of plugin install directories below ``data_dir``.

    ``services`` limits the import check to the hooks of the services this
    host runs (None: every hook). ``checkpoint`` is called with the name of
    each step as it completes (``fetched:<plugin>``, ``installed:<plugin>``,
    ``moved:<plugin>``, ``composed``, ``prepared``, ``linked``,
    ``switched``); tests use it to crash the process between steps.
    """

    name = "plain"

    def __init__(
        self,
        data_dir: Path,
        *,
        services: Sequence[ServiceKind] | None = None,
        import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        # Absolute: the paths end up on sys.path and in child processes.
        self.data_dir = data_dir = data_dir.absolute()
        self.installed_root = data_dir / INSTALLED_DIR
        self.generations_root = data_dir / GENERATIONS_DIR
        self.services = tuple(services) if services is not None else None
        self.import_timeout = import_timeout
        self._checkpoint = checkpoint or _no_checkpoint

    # -- paths ---------------------------------------------------------------------

    def install_dir(self, plugin: GenerationPlugin) -> Path:
        """Where ``plugin`` is (or will be) installed: ``<name>/<version>-<sha12>``."""
        return self.installed_root / plugin.name / f"{plugin.version}-{plugin.sha256[:12]}"

    def generation_dir(self, number: int) -> Path:
        return self.generations_root / str(number)

    # -- HostBackend ------------------------------------------------------------------

    def prepare(self, generation: Generation, fetch: ArtifactFetcher) -> Prepared:
        with self._lock():
            existing = self._read_prepared(generation.number)
            if existing is not None and existing.digest() != generation.digest():
                raise GenerationConflict(generation.number)
            installed: list[str] = []
            reused: list[str] = []
            dirs: list[Path] = []
            for plugin in generation.plugins.values():
                target = self.install_dir(plugin)
                if _install_complete(target, plugin):
                    reused.append(plugin.name)
                else:
                    self._install(plugin, target, fetch)
                    installed.append(plugin.name)
                dirs.append(target)
            if existing is None:
                self._compose(generation, dirs)
        return Prepared(
            generation=generation.number,
            location=str(self.generation_dir(generation.number)),
            plugin_paths=tuple(dirs),
            installed=tuple(installed),
            reused=tuple(reused),
        )

    def import_check(self, generation: Generation) -> None:
        prepared = self._read_prepared(generation.number)
        if prepared is None:
            raise GenerationNotPrepared(generation.number)
        if prepared.digest() != generation.digest():
            raise GenerationConflict(generation.number)
        targets = []
        for plugin in prepared.plugins.values():
            hooks = plugin.hooks
            if self.services is not None:
                hooks = {kind: ref for kind, ref in hooks.items() if kind in self.services}
            directory = self.install_dir(plugin)
            targets.append(ImportTarget(plugin.name, list(hooks.values()), directory))
        dirs = _read_plugin_paths(self.generation_dir(generation.number))
        # The check's home and temporary files are throwaway: the system temp dir.
        with tempfile.TemporaryDirectory(prefix="peek-import-check-") as work:
            import_check(targets, dirs, workdir=Path(work), timeout=self.import_timeout)

    def switch(self, generation: int) -> None:
        with self._lock():
            self._switch(generation)

    def rollback(self, to_generation: int) -> None:
        with self._lock():
            if self._active() == to_generation:
                return
            self._switch(to_generation)
            log.warning("rolled back to plugin generation %d", to_generation)

    def active(self) -> int | None:
        return self._active()

    def prepared(self) -> list[int]:
        if not self.generations_root.is_dir():
            return []
        found = []
        for entry in self.generations_root.iterdir():
            if entry.name.isdigit() and (entry / GENERATION_FILE).is_file():
                found.append(int(entry.name))
        return sorted(found)

    def recover(self) -> None:
        with self._lock():
            removed = []
            for parent in (self.generations_root, *self._plugin_roots()):
                for entry in parent.iterdir() if parent.is_dir() else ():
                    if entry.name.startswith((_TMP_PREFIX, _LINK_PREFIX)):
                        remove_path(entry)
                        removed.append(entry)
            if removed:
                log.warning(
                    "removed %d leftovers of an interrupted plugin rollout: %s",
                    len(removed),
                    ", ".join(str(p) for p in removed),
                )

    def prune(self, keep: Sequence[int]) -> None:
        with self._lock():
            active = self._active()
            kept = set(keep) | ({active} if active is not None else set())
            for number in self.prepared():
                if number not in kept:
                    remove_path(self.generation_dir(number))
            used: set[str] = set()
            for number in self.prepared():
                used.update(
                    os.path.normpath(p) for p in _read_plugin_paths(self.generation_dir(number))
                )
            for root in self._plugin_roots():
                for entry in root.iterdir():
                    if not entry.name.startswith(".") and os.path.normpath(entry) not in used:
                        remove_path(entry)
                if not any(root.iterdir()):
                    root.rmdir()

    # -- steps ---------------------------------------------------------------------------

    def _install(self, plugin: GenerationPlugin, target: Path, fetch: ArtifactFetcher) -> None:
        wheel = fetch(plugin)
        actual = sha256_file(wheel)
        if actual != plugin.sha256:
            raise ArtifactCorrupt(plugin.sha256, actual, str(wheel))
        self._checkpoint(f"fetched:{plugin.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{_TMP_PREFIX}{target.name}-"))
        try:
            install_wheel(wheel, tmp, filename=plugin.wheel)
            marker = {
                "name": plugin.name,
                "version": plugin.version,
                "sha256": plugin.sha256,
                "wheel": plugin.wheel,
            }
            (tmp / INSTALL_MARKER).write_text(json.dumps(marker, sort_keys=True), "utf-8")
            os.chmod(tmp, 0o755)
            fsync_tree(tmp)
        except BaseException:
            # A failure (not a crash, which recover() handles) leaves no litter.
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._checkpoint(f"installed:{plugin.name}")
        os.rename(tmp, target)
        fsync_dir(target.parent)
        self._checkpoint(f"moved:{plugin.name}")

    def _compose(self, generation: Generation, dirs: Sequence[Path]) -> None:
        final = self.generation_dir(generation.number)
        self.generations_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(dir=self.generations_root, prefix=f"{_TMP_PREFIX}{generation.number}-")
        )
        lines = [os.path.relpath(d, final) for d in dirs]
        try:
            (tmp / PLUGIN_PATH_FILE).write_text("".join(f"{line}\n" for line in lines), "utf-8")
            # Written last: a generation directory with its manifest is complete.
            (tmp / GENERATION_FILE).write_bytes(generation.canonical_json())
            os.chmod(tmp, 0o755)
            fsync_tree(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._checkpoint("composed")
        os.rename(tmp, final)
        fsync_dir(self.generations_root)
        self._checkpoint("prepared")

    def _switch(self, number: int) -> None:
        gen_dir = self.generation_dir(number)
        if self._read_prepared(number) is None:
            raise GenerationNotPrepared(number)
        for path in _read_plugin_paths(gen_dir):
            if not (path / INSTALL_MARKER).is_file():
                raise BackendError(
                    number, f"generation {number} is incomplete on this host: {path} is missing"
                )
        link = self.generations_root / f"{_LINK_PREFIX}{os.getpid()}-{number}"
        link.unlink(missing_ok=True)
        os.symlink(str(number), link)
        self._checkpoint("linked")
        os.replace(link, self.generations_root / CURRENT_LINK)
        fsync_dir(self.generations_root)
        self._checkpoint("switched")
        log.info("plugin generation %d is active", number)

    # -- reading state --------------------------------------------------------------------

    def _active(self) -> int | None:
        return _read_current(self.generations_root)

    def _read_prepared(self, number: int) -> Generation | None:
        path = self.generation_dir(number) / GENERATION_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return Generation.from_json(data)
        except GenerationError as exc:
            raise BackendError(number, f"{path} is unreadable: {exc}") from None

    def _plugin_roots(self) -> list[Path]:
        if not self.installed_root.is_dir():
            return []
        return [p for p in self.installed_root.iterdir() if p.is_dir()]

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.generations_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.generations_root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# -- activation in a service process ----------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """What :func:`activate_on_sys_path` put on the path: the generation and its directories."""

    generation: Generation
    plugin_dirs: tuple[Path, ...]

    @property
    def number(self) -> int:
        return self.generation.number

    @property
    def plugins(self) -> tuple[str, ...]:
        """The generation's plugin names (for ``discover(only=...)``)."""
        return tuple(self.generation.plugins)


def activate_on_sys_path(
    data_dir: Path,
    path: list[str] | None = None,
    *,
    previous: Sequence[Path] = (),
    number: int | None = None,
) -> Activation | None:
    """Put the active generation's plugin directories at the front of ``path`` (``sys.path``).

    Call it at service start, before plugin discovery and before any plugin
    is imported, and again after a switch with the directories of the
    generation that ran until then as ``previous`` (they leave the path;
    unloading the modules imported from them is the caller's business).
    With ``number``, that prepared generation rather than the active one
    (a service applying the generation it was told to switch to, while
    another service sharing the data directory may move the link on).
    Returns None when no generation was ever switched
    to (the plugins installed in the environment run). Raises
    :class:`BackendError` when the active generation is damaged (a plugin
    directory is missing). Blocking.
    """
    target = sys.path if path is None else path
    gone = {str(p) for p in previous}
    target[:] = [entry for entry in target if entry not in gone]
    generations = data_dir.absolute() / GENERATIONS_DIR
    if number is None:
        number = _read_current(generations)
    if number is None:
        importlib.invalidate_caches()
        return None
    # Everything is read from the directory the link named once: a switch
    # made meanwhile cannot mix two generations.
    gen_dir = generations / str(number)
    try:
        generation = Generation.from_json((gen_dir / GENERATION_FILE).read_bytes())
        dirs = _read_plugin_paths(gen_dir)
    except (OSError, GenerationError) as exc:
        raise BackendError(number, f"the active generation {number} is unreadable: {exc}") from None
    for directory in dirs:
        if not (directory / INSTALL_MARKER).is_file():
            raise BackendError(
                number, f"the active generation {number} is damaged: {directory} is missing"
            )
    entries = [str(d) for d in dirs]
    target[:] = entries + [entry for entry in target if entry not in entries]
    importlib.invalidate_caches()
    log.info("plugin generation %d: %d plugin directories on the path", number, len(entries))
    return Activation(generation, tuple(dirs))


# -- helpers ------------------------------------------------------------------------------------


def _read_current(generations: Path) -> int | None:
    try:
        value = os.readlink(generations / CURRENT_LINK)
    except FileNotFoundError:
        return None
    if not value.isdigit():
        raise BackendError(None, f"{generations / CURRENT_LINK} points at {value!r}")
    return int(value)


def _read_plugin_paths(gen_dir: Path) -> list[Path]:
    text = (gen_dir / PLUGIN_PATH_FILE).read_text(encoding="utf-8")
    return [
        Path(os.path.normpath(gen_dir / line.strip()))
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _install_complete(target: Path, plugin: GenerationPlugin) -> bool:
    try:
        marker = json.loads((target / INSTALL_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("sha256") == plugin.sha256
