"""The NixOS backend: a generation is a lock file of the system flake; root rebuilds the system.

The service user never runs Nix and never needs root. It writes files; a
root oneshot unit (``peek-rebuild.service``, started by ``peek-rebuild.path``
when a request appears, see ``modules/rebuild.nix``) does the rebuild and
answers with a result file.

Layout (``flake_dir`` is ``<data dir>/system-flake``, writable by the service
user; ``state_dir`` is ``/var/lib/peek-rebuild``, written only by root)::

    flake_dir/generations/<n>/generation.lock.json  the lock the modules read
    flake_dir/generations/<n>/generation.json       the whole manifest
    flake_dir/generations/<n>/wheels/<file>.whl     the wheels, named in the lock
    request_dir/request                             one pending request (text)
    request_dir/in-flight.json                      the request this service waits for
    state_dir/results/<id>.json                     the oneshot's answer to request <id>
    state_dir/built/<n>                             the system built for generation <n>
    state_dir/active.json                           the generation the running system has

The lock (``generation.lock.json``) is what evaluation sees::

    {"generation": 7, "digest": "<manifest sha256>",
     "plugins": {"peek_plugin_x": {"version": "1.2", "sha256": "<hex>",
                                   "wheel": "wheels/peek_plugin_x-1.2-py3-none-any.whl"}}}

``services.peek.generationLock`` takes each wheel into the Nix store by its
SHA-256 (evaluation fails on a mismatch), so the lock names exactly the
store paths the system is built from.

Every write makes a new file or directory under a temporary name, flushes
it and renames it into place: a crash leaves the running generation as it
was plus ``.tmp-*`` litter that :meth:`NixosHostBackend.recover` removes.
The request is a small ``key=value`` text file (the root side validates
each line against a strict pattern rather than parse JSON it did not write).

Three requests, each answered in its own result file:

- ``build`` (at :meth:`~NixosHostBackend.prepare`): root builds the system
  from the generation's lock and records it in ``state_dir/built/<n>``;
  nothing is activated. A build that fails fails the prepare with the
  reason, so the rollout aborts before anything changed anywhere.
- ``switch``: ``switch-to-configuration test`` of that built system, the
  health wait, then ``boot`` (the new boot default); on failure the
  previous system is activated again.
- ``rollback``: the same towards the system an earlier generation ran.

A switch restarts the Peek units of the host, so the process that asked
for it is usually stopped while it waits (on the server host, the server
itself; :meth:`NixosHostBackend.stop_waiting` lets it exit at once). The
request it waits for is kept in ``request_dir/in-flight.json``; after the
restart :meth:`NixosHostBackend.interrupted` says which request was left
and, once the oneshot answered, its outcome, so the service can continue
the rollout instead of losing track of it. Every service does the same
with it (``peek.services.rollout.root_answer``): it reports no health for
the generation until root answered, and root's failure as its own.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
from peek.rollout.generations import Generation
from peek.rollout.hashing import sha256_file
from peek.rollout.wheels import DEFAULT_IMPORT_TIMEOUT, ImportTarget, import_check, install_wheel

__all__ = [
    "ACTIVE_FILE",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "REQUEST_FILE",
    "Interrupted",
    "NixosHostBackend",
    "RebuildFailed",
    "RebuildResult",
    "RebuildTimeout",
]

log = logging.getLogger(__name__)

GENERATIONS_DIR = "generations"
LOCK_FILE = "generation.lock.json"
MANIFEST_FILE = "generation.json"
WHEELS_DIR = "wheels"
REQUEST_FILE = "request"
RESULTS_DIR = "results"
BUILT_DIR = "built"
ACTIVE_FILE = "active.json"
IN_FLIGHT_FILE = "in-flight.json"
DEFAULT_REBUILD_TIMEOUT = 1800.0
DEFAULT_BUILD_TIMEOUT = 1800.0
Action = Literal["build", "switch", "rollback"]
_DOING: dict[str, str] = {
    "build": "building the system for",
    "switch": "switching to",
    "rollback": "rolling back to",
}
_MUTEX = ".lock"
_TMP_PREFIX = ".tmp-"
_POLL = 0.05

Checkpoint = Callable[[str], None]


def _no_checkpoint(step: str) -> None:
    return None


class RebuildFailed(BackendError):
    """The oneshot could not do what it was asked: a build failed (nothing was activated),
    or an activation or the health wait failed (it switched back).

    ``reason`` is what the oneshot wrote; ``system_generation`` the system
    generation the host runs now, when it said.
    """

    def __init__(
        self,
        generation: int,
        reason: str,
        system_generation: int | None,
        action: str = "switch",
    ) -> None:
        self.reason = reason
        self.system_generation = system_generation
        self.action = action
        doing = _DOING.get(action, action)
        super().__init__(generation, f"{doing} plugin generation {generation} failed: {reason}")


class RebuildTimeout(BackendError):
    """No result within the timeout; ``taken`` says whether the oneshot had started on it."""

    def __init__(self, generation: int, timeout: float, taken: bool, result: Path) -> None:
        self.taken = taken
        self.result = result
        if taken:
            what = f"the rebuild is still running; its result will appear at {result}"
        else:
            what = "peek-rebuild.path never started the rebuild; the request was withdrawn"
        super().__init__(
            generation,
            f"no rebuild result for plugin generation {generation} in {timeout:g}s: {what}",
        )


@dataclass(frozen=True)
class RebuildResult:
    """What the oneshot answered: the plugin generation and the system generation it runs
    (for a build: the system it built, not activated)."""

    generation: int
    system_generation: int | None
    system: str | None


@dataclass(frozen=True)
class Interrupted:
    """A request an earlier process of this service left in flight, and the answer if any.

    ``result`` is set when the oneshot succeeded, ``failure`` (its reason)
    when it failed; both are None while it still runs.
    """

    request_id: str
    action: Action
    generation: int
    result: RebuildResult | None = None
    failure: RebuildFailed | None = None

    @property
    def answered(self) -> bool:
        return self.result is not None or self.failure is not None


class NixosHostBackend(HostBackend):
    """Generations as lock files of the system flake; switches done by ``peek-rebuild.service``.

    ``flake_dir`` and ``request_dir`` belong to the service user;
    ``state_dir`` is the oneshot's (root-owned, readable by the service).
    ``build_timeout`` bounds the build at prepare, ``rebuild_timeout`` a
    switch or rollback (activation and the health wait). ``checkpoint`` is
    called after each step of ``prepare`` (``wheels``, ``composed``,
    ``prepared``, ``built``); tests crash there.
    """

    name = "nixos"

    def __init__(
        self,
        flake_dir: Path,
        request_dir: Path,
        state_dir: Path,
        *,
        rebuild_timeout: float = DEFAULT_REBUILD_TIMEOUT,
        build_timeout: float = DEFAULT_BUILD_TIMEOUT,
        services: Sequence[ServiceKind] | None = None,
        import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.flake_dir = flake_dir.absolute()
        self.generations_root = self.flake_dir / GENERATIONS_DIR
        self.request_dir = request_dir.absolute()
        self.state_dir = state_dir.absolute()
        self.rebuild_timeout = rebuild_timeout
        self.build_timeout = build_timeout
        self.services = tuple(services) if services is not None else None
        self.import_timeout = import_timeout
        self._checkpoint = checkpoint or _no_checkpoint
        self._stopping = threading.Event()

    def generation_dir(self, number: int) -> Path:
        return self.generations_root / str(number)

    # -- HostBackend -------------------------------------------------------------------

    def prepare(self, generation: Generation, fetch: ArtifactFetcher) -> Prepared:
        number = generation.number
        with self._lock():
            existing = self._read_prepared(number)
            if existing is not None and existing.digest() != generation.digest():
                raise GenerationConflict(number)
            if existing is None:
                self._compose(generation, fetch)
        system = self.built(number)
        if system is None:
            # Root builds; nothing is activated. A failed build raises
            # RebuildFailed with the builder's output: the prepare fails.
            result = self._request("build", number, self.build_timeout)
            if result.system is None:
                raise BackendError(number, "the oneshot built no system")
            system = result.system
            self._checkpoint("built")
        names = tuple(generation.plugins)
        return Prepared(
            generation=number,
            location=system,
            plugin_paths=(),
            installed=names if existing is None else (),
            reused=names if existing is not None else (),
            restart_required=True,
        )

    def import_check(self, generation: Generation) -> None:
        prepared = self._read_prepared(generation.number)
        if prepared is None:
            raise GenerationNotPrepared(generation.number)
        if prepared.digest() != generation.digest():
            raise GenerationConflict(generation.number)
        gen_dir = self.generation_dir(generation.number)
        # The system is not built yet: the wheels are installed into a
        # throwaway directory and imported with this interpreter (the one
        # the built closure also uses, from the same nixpkgs).
        with tempfile.TemporaryDirectory(prefix="peek-import-check-") as work:
            targets = []
            dirs = []
            for plugin in prepared.plugins.values():
                target = Path(work) / plugin.name
                install_wheel(gen_dir / WHEELS_DIR / plugin.wheel, target, filename=plugin.wheel)
                hooks = plugin.hooks
                if self.services is not None:
                    hooks = {k: ref for k, ref in hooks.items() if k in self.services}
                targets.append(ImportTarget(plugin.name, list(hooks.values()), target))
                dirs.append(target)
            import_check(targets, dirs, workdir=Path(work), timeout=self.import_timeout)

    def switch(self, generation: int) -> None:
        if self._read_prepared(generation) is None or self.built(generation) is None:
            raise GenerationNotPrepared(generation)
        result = self._request("switch", generation, self.rebuild_timeout)
        log.info(
            "plugin generation %d is active (system generation %s)",
            generation,
            result.system_generation,
        )

    def rollback(self, to_generation: int) -> None:
        if self.active() == to_generation:
            return
        if self._read_prepared(to_generation) is None:
            raise GenerationNotPrepared(to_generation)
        result = self._request("rollback", to_generation, self.rebuild_timeout)
        log.warning(
            "rolled back to plugin generation %d (system generation %s)",
            to_generation,
            result.system_generation,
        )

    def active(self) -> int | None:
        data = _read_json(self.state_dir / ACTIVE_FILE)
        if data is None:
            return None
        number = data.get("generation")
        if isinstance(number, bool) or not isinstance(number, int):
            raise BackendError(None, f"{self.state_dir / ACTIVE_FILE} names no generation")
        return number

    def active_system(self) -> RebuildResult | None:
        """The running system as the oneshot last recorded it (None before the first switch)."""
        data = _read_json(self.state_dir / ACTIVE_FILE)
        return None if data is None else _result(data, self.state_dir / ACTIVE_FILE)

    def manifest(self, number: int) -> Generation | None:
        """The manifest of composed generation ``number`` (None if this host has none)."""
        return self._read_prepared(number)

    def built(self, number: int) -> str | None:
        """The system root built for plugin generation ``number`` (None: not built)."""
        try:
            return os.readlink(self.state_dir / BUILT_DIR / str(number))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def prepared(self) -> list[int]:
        """The generations whose lock is written and whose system root has built."""
        return [number for number in self._composed() if self.built(number) is not None]

    def interrupted(self) -> Interrupted | None:
        """The request an earlier process of this service was waiting for when it stopped
        (a switch restarts the Peek units, the one that asked among them), with the
        oneshot's answer once there is one; None if it left none."""
        data = _read_json(self.request_dir / IN_FLIGHT_FILE)
        if data is None:
            return None
        request_id = data.get("id")
        action = data.get("action")
        number = data.get("generation")
        if (
            not isinstance(request_id, str)
            or action not in _DOING
            or isinstance(number, bool)
            or not isinstance(number, int)
        ):
            raise BackendError(None, f"{self.request_dir / IN_FLIGHT_FILE} is not a request")
        left = Interrupted(request_id, action, number)
        answer = _read_json(self._result_path(request_id))
        if answer is None:
            return left
        try:
            result = self._answer(answer, self._result_path(request_id), action, number)
        except RebuildFailed as failed:
            return Interrupted(request_id, action, number, failure=failed)
        return Interrupted(request_id, action, number, result=result)

    def wait_interrupted(self, timeout: float) -> Interrupted | None:
        """Blocking: :meth:`interrupted`, waiting up to ``timeout`` for the answer.

        Raises :class:`RebuildTimeout` if the oneshot has not answered by then.
        """
        deadline = time.monotonic() + timeout
        while (left := self.interrupted()) is not None and not left.answered:
            if time.monotonic() >= deadline:
                taken = not (self.request_dir / REQUEST_FILE).exists()
                raise RebuildTimeout(
                    left.generation, timeout, taken, self._result_path(left.request_id)
                )
            self._pause(left.generation)
        return left

    def stop_waiting(self) -> None:
        """Make every wait for root's answer (in other threads) give up now with a
        :class:`BackendError`, the request left in flight: the service stops (root's
        switch restarts it, say), and its next process reads the answer. Without this
        its executor thread would keep it from exiting until the wait timed out."""
        self._stopping.set()

    def _pause(self, generation: int) -> None:
        if self._stopping.wait(_POLL):
            raise BackendError(
                generation, "the service stopped while waiting for root; it reads the answer next"
            )

    def _may_still_run(self) -> bool:
        """Whether the oneshot may still answer the in-flight request: same boot, and
        within the time the requester was going to wait (systemd stops it after that)."""
        data = _read_json(self.request_dir / IN_FLIGHT_FILE) or {}
        until = data.get("until")
        if data.get("boot") != _boot_id():
            return False
        return not isinstance(until, (int, float)) or time.time() < until

    def forget_interrupted(self, request_id: str) -> None:
        """Drop the in-flight record of ``request_id`` once its outcome is dealt with."""
        with self._lock():
            data = _read_json(self.request_dir / IN_FLIGHT_FILE)
            if data is not None and data.get("id") == request_id:
                (self.request_dir / IN_FLIGHT_FILE).unlink(missing_ok=True)

    def recover(self) -> None:
        with self._lock():
            removed = []
            for parent in (self.generations_root, self.request_dir):
                for entry in parent.iterdir() if parent.is_dir() else ():
                    if entry.name.startswith(_TMP_PREFIX):
                        remove_path(entry)
                        removed.append(str(entry))
            left = self.interrupted()
            if left is not None and not left.answered and not self._may_still_run():
                # Asked before a reboot (or longer ago than it could run): the
                # oneshot that took it is gone and will never answer.
                (self.request_dir / IN_FLIGHT_FILE).unlink(missing_ok=True)
                removed.append(f"the unanswered {left.action} of generation {left.generation}")
            if removed:
                log.warning("removed leftovers of an interrupted rollout: %s", ", ".join(removed))

    def prune(self, keep: Sequence[int]) -> None:
        with self._lock():
            active = self.active()
            kept = set(keep) | ({active} if active is not None else set())
            for number in self._composed():
                if number not in kept:
                    remove_path(self.generation_dir(number))

    # -- steps ----------------------------------------------------------------------------

    def _composed(self) -> list[int]:
        if not self.generations_root.is_dir():
            return []
        return sorted(
            int(entry.name)
            for entry in self.generations_root.iterdir()
            if entry.name.isdigit() and (entry / LOCK_FILE).is_file()
        )

    def _compose(self, generation: Generation, fetch: ArtifactFetcher) -> None:
        self.generations_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(dir=self.generations_root, prefix=f"{_TMP_PREFIX}{generation.number}-")
        )
        try:
            wheels = tmp / WHEELS_DIR
            wheels.mkdir()
            plugins: dict[str, Mapping[str, str]] = {}
            for plugin in generation.plugins.values():
                source = fetch(plugin)
                actual = sha256_file(source)
                if actual != plugin.sha256:
                    raise ArtifactCorrupt(plugin.sha256, actual, str(source))
                self._place(source, wheels / plugin.wheel, plugin.sha256)
                plugins[plugin.name] = {
                    "version": plugin.version,
                    "sha256": plugin.sha256,
                    "wheel": f"{WHEELS_DIR}/{plugin.wheel}",
                }
            self._checkpoint("wheels")
            (tmp / MANIFEST_FILE).write_bytes(generation.canonical_json())
            lock = {
                "generation": generation.number,
                "digest": generation.digest(),
                "plugins": plugins,
            }
            # Written last: a directory with its lock is a complete generation.
            (tmp / LOCK_FILE).write_text(json.dumps(lock, sort_keys=True, indent=1) + "\n", "utf-8")
            os.chmod(tmp, 0o755)
            fsync_tree(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._checkpoint("composed")
        os.rename(tmp, self.generation_dir(generation.number))
        fsync_dir(self.generations_root)
        self._checkpoint("prepared")

    def _place(self, source: Path, target: Path, sha256: str) -> None:
        # A wheel an earlier generation already holds is linked, not copied:
        # the same bytes (checked by hash) cost nothing twice.
        for number in reversed(self.prepared()):
            earlier = self.generation_dir(number) / WHEELS_DIR / target.name
            if earlier.is_file() and sha256_file(earlier) == sha256:
                try:
                    os.link(earlier, target)
                    return
                except OSError:
                    break
        shutil.copyfile(source, target)
        os.chmod(target, 0o644)

    def _result_path(self, request_id: str) -> Path:
        return self.state_dir / RESULTS_DIR / f"{request_id}.json"

    def ask(self, action: Action, generation: int) -> str:
        """Hand ``action`` to the oneshot without waiting (its id); :meth:`interrupted`
        and :meth:`wait_interrupted` follow it. For a service in recovery, whose own
        unit the answer waits for (a rollback restarts it)."""
        if action != "build" and self._read_prepared(generation) is None:
            raise GenerationNotPrepared(generation)
        return self._post(action, generation, self.rebuild_timeout)

    def unpack(self, number: int, into: Path) -> dict[str, Path]:
        """Blocking: install composed generation ``number``'s wheels under ``into``
        (one directory per plugin, holding its package), for code a service needs from a
        generation its system does not run (the server undoing a failed one's migrations)."""
        manifest = self._read_prepared(number)
        if manifest is None:
            raise GenerationNotPrepared(number)
        dirs = {}
        for plugin in manifest.plugins.values():
            target = into / plugin.name
            install_wheel(
                self.generation_dir(number) / WHEELS_DIR / plugin.wheel,
                target,
                filename=plugin.wheel,
            )
            dirs[plugin.name] = target
        return dirs

    def _request(self, action: Action, generation: int, timeout: float) -> RebuildResult:
        """Hand ``action`` to the oneshot and wait for its answer. One request at a time."""
        request_id = self._post(action, generation, timeout)
        result_path = self._result_path(request_id)
        request = self.request_dir / REQUEST_FILE
        deadline = time.monotonic() + timeout
        # Polled: the answer comes from another process as a file rename,
        # and the standard library has no file-change notification.
        while (data := _read_json(result_path)) is None:
            if time.monotonic() >= deadline:
                taken = not _withdraw(request, request_id)
                if not taken:
                    self.forget_interrupted(request_id)
                raise RebuildTimeout(generation, timeout, taken, result_path)
            self._pause(generation)
        self.forget_interrupted(request_id)
        return self._answer(data, result_path, action, generation)

    def _post(self, action: Action, generation: int, timeout: float) -> str:
        request_id = secrets.token_hex(16)
        request = self.request_dir / REQUEST_FILE
        in_flight = self.request_dir / IN_FLIGHT_FILE
        with self._lock():
            self.request_dir.mkdir(parents=True, exist_ok=True)
            if request.exists():
                raise BackendError(
                    generation,
                    f"another rebuild request is pending ({request}); not queuing a second",
                )
            left = self.interrupted()
            if left is not None and not left.answered and self._may_still_run():
                raise BackendError(
                    generation,
                    f"the {left.action} of plugin generation {left.generation} that an earlier "
                    f"process asked for is still running; its result will appear at "
                    f"{self._result_path(left.request_id)}",
                )
            # Recorded before the request exists: a restart while waiting
            # (the switch restarts this very service) finds what it waited for.
            record = {
                "id": request_id,
                "action": action,
                "generation": generation,
                "boot": _boot_id(),
                "until": time.time() + timeout,
            }
            _write_atomically(in_flight, json.dumps(record).encode())
            body = f"id={request_id}\naction={action}\ngeneration={generation}\n"
            _write_atomically(request, body.encode())
        log.info("asked root: %s plugin generation %d (request %s)", action, generation, request_id)
        return request_id

    def _answer(
        self, data: Mapping[str, Any], where: Path, action: str, generation: int
    ) -> RebuildResult:
        result = _result(data, where)
        if data.get("ok") is not True:
            reason = data.get("reason")
            raise RebuildFailed(
                generation,
                reason if isinstance(reason, str) and reason else "(the oneshot gave no reason)",
                result.system_generation,
                action,
            )
        if result.generation != generation:
            raise BackendError(generation, f"{where} answers for generation {result.generation}")
        return result

    # -- reading state ----------------------------------------------------------------------

    def _read_prepared(self, number: int) -> Generation | None:
        gen_dir = self.generation_dir(number)
        if not (gen_dir / LOCK_FILE).is_file():
            return None
        try:
            return Generation.from_json((gen_dir / MANIFEST_FILE).read_bytes())
        except (OSError, GenerationError) as exc:
            raise BackendError(number, f"{gen_dir} is unreadable: {exc}") from None

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.flake_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.flake_dir / _MUTEX, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# -- helpers ------------------------------------------------------------------------------------


def _result(data: Mapping[str, Any], where: Path) -> RebuildResult:
    number = data.get("generation")
    system_generation = data.get("system_generation")
    system = data.get("system")
    if isinstance(number, bool) or not isinstance(number, int):
        raise BackendError(None, f"{where} names no generation")
    if not (system_generation is None or type(system_generation) is int):
        raise BackendError(number, f"{where}: system_generation {system_generation!r}")
    return RebuildResult(number, system_generation, system if isinstance(system, str) else None)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BackendError(None, f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BackendError(None, f"{path} is not a JSON object")
    return data


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _withdraw(request: Path, request_id: str) -> bool:
    """Remove our request if the oneshot has not taken it yet; True if withdrawn."""
    try:
        text = request.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    if f"id={request_id}\n" not in text:
        return False
    # The oneshot takes a request by renaming it away: if it did so since
    # the read, this unlink finds nothing and the request counts as taken.
    try:
        request.unlink()
    except FileNotFoundError:
        return False
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_TMP_PREFIX}{path.name}-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
