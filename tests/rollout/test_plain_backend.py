"""``peek.rollout.backends.plain``: prepare beside, switch atomically, roll back, survive crashes,
and put the active generation where plugin discovery finds it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

import peek
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backends.plain import (
    CURRENT_LINK,
    GENERATION_FILE,
    INSTALL_MARKER,
    PLUGIN_PATH_FILE,
    PlainHostBackend,
    activate_on_sys_path,
)
from peek.rollout.errors import (
    ArtifactCorrupt,
    BackendError,
    GenerationConflict,
    GenerationNotPrepared,
    ImportCheckFailed,
)
from peek.rollout.generations import Generation, GenerationPlugin
from peek.rollout.wheels import read_plugin_wheel

from .conftest import Built
from .sites import file_digest
from .wheelkit import PACKAGE

CHILD_TIMEOUT = 60.0
WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Wheels:
    weather1: Path
    weather2: Path
    station: Path
    broken: Path
    broken_client: Path


@pytest.fixture(scope="module")
def wheels(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    out = tmp_path_factory.mktemp("backend-wheels")
    kit = built.files()
    station = kit.renamed("station")
    station = station.with_manifest(station.manifest() + 'weather = ">=0.1"\n')
    return Wheels(
        weather1=built.wheel,
        weather2=kit.with_version("0.2.0").write(out),
        station=station.write(out),
        broken=kit.renamed("broken")
        .put("peek_plugin_broken/_private/server.py", "raise RuntimeError('broken on import')\n")
        .write(out),
        broken_client=kit.renamed("halfbroken")
        .put("peek_plugin_halfbroken/_private/client.py", "import no_such_module_anywhere\n")
        .write(out),
    )


def entry(wheel: Path) -> GenerationPlugin:
    info = read_plugin_wheel(wheel, peek.__version__)
    return GenerationPlugin(
        name=info.package,
        version=str(info.version),
        sha256=file_digest(wheel),
        wheel=info.filename,
        manifest=dict(info.manifest.raw),
        requires_dist=info.requires_dist,
    )


def generation(number: int, *wheels: Path) -> Generation:
    plugins = {p.name: p for p in map(entry, wheels)}
    return Generation(number, number - 1 or None, "admin", f"test {number}", WHEN, plugins)


@dataclass
class Host:
    data_dir: Path
    store: ArtifactStore
    backend: PlainHostBackend
    fetched: list[str]

    def fetch(self, plugin: GenerationPlugin) -> Path:
        self.fetched.append(plugin.name)
        return self.store.get(plugin.sha256)

    def tree(self) -> dict[str, tuple[int, int]]:
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.data_dir / "plugins-installed"):
            for name in dirnames + filenames:
                st = (Path(dirpath) / name).lstat()
                found[os.path.join(dirpath, name)] = (st.st_ino, st.st_mtime_ns)
        gens = self.data_dir / "generations"
        for path in sorted(gens.rglob("*")) if gens.exists() else ():
            st = path.lstat()
            found[str(path)] = (st.st_ino, st.st_mtime_ns)
        return found

    def leftovers(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.data_dir))
            for p in self.data_dir.rglob(".*")
            if p.name not in (".lock", INSTALL_MARKER)
        )


@pytest.fixture
def host(tmp_path: Path, wheels: Wheels) -> Host:
    data_dir = tmp_path / "data"
    store = ArtifactStore.in_data_dir(data_dir)
    for path in (wheels.weather1, wheels.weather2, wheels.station, wheels.broken):
        store.add(path)
    store.add(wheels.broken_client)
    return Host(data_dir, store, PlainHostBackend(data_dir, import_timeout=30), [])


# -- prepare --------------------------------------------------------------------------


def test_prepare_installs_each_plugin_version_into_its_own_directory(
    host: Host, wheels: Wheels
) -> None:
    gen = generation(1, wheels.weather1, wheels.station)

    prepared = host.backend.prepare(gen, host.fetch)

    weather = gen.plugins[PACKAGE]
    target = host.data_dir / "plugins-installed" / PACKAGE / f"0.1.0-{weather.sha256[:12]}"
    assert (target / PACKAGE / "plugin.toml").is_file()
    assert (target / f"{PACKAGE}-0.1.0.dist-info" / "RECORD").is_file()
    assert json.loads((target / INSTALL_MARKER).read_text())["sha256"] == weather.sha256
    # Sorted by plugin name, as the generation lists them.
    assert prepared.plugin_paths == (
        host.backend.install_dir(gen.plugins["peek_plugin_station"]),
        target,
    )
    assert sorted(prepared.installed) == ["peek_plugin_station", PACKAGE]
    assert host.backend.active() is None


def test_prepare_composes_the_generation_from_relative_plugin_paths(
    host: Host, wheels: Wheels
) -> None:
    gen = generation(1, wheels.weather1)

    host.backend.prepare(gen, host.fetch)

    gen_dir = host.data_dir / "generations" / "1"
    assert (gen_dir / GENERATION_FILE).read_bytes() == gen.canonical_json()
    [line] = (gen_dir / PLUGIN_PATH_FILE).read_text().splitlines()
    assert line.startswith("../../plugins-installed/")
    assert host.backend.prepared() == [1]


def test_preparing_the_same_generation_again_changes_nothing(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1, wheels.station)
    host.backend.prepare(gen, host.fetch)
    before, fetched = host.tree(), list(host.fetched)

    again = host.backend.prepare(gen, host.fetch)

    assert sorted(again.reused) == ["peek_plugin_station", PACKAGE]
    assert again.installed == ()
    assert host.fetched == fetched
    assert host.tree() == before


def test_a_new_generation_reuses_unchanged_installs_and_leaves_the_old_one_alone(
    host: Host, wheels: Wheels
) -> None:
    one = generation(1, wheels.weather1, wheels.station)
    host.backend.prepare(one, host.fetch)
    host.backend.switch(1)
    # What generation 1 consists of: its installs, its directory and the current link.
    used = (
        *(str(host.backend.install_dir(p)) for p in one.plugins.values()),
        str(host.data_dir / "generations" / "1"),
        str(host.data_dir / "generations" / CURRENT_LINK),
    )
    before = {k: v for k, v in host.tree().items() if k.startswith(used)}

    prepared = host.backend.prepare(generation(2, wheels.weather2, wheels.station), host.fetch)

    assert (prepared.installed, prepared.reused) == ((PACKAGE,), ("peek_plugin_station",))
    assert {k: v for k, v in host.tree().items() if k.startswith(used)} == before
    assert host.backend.active() == 1


def test_a_different_manifest_under_a_prepared_number_is_refused(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)
    before = host.tree()

    with pytest.raises(GenerationConflict, match="generation numbers are never reused"):
        host.backend.prepare(generation(1, wheels.weather2), host.fetch)

    assert host.tree() == before


def test_an_artifact_with_the_wrong_hash_is_not_installed(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1)

    with pytest.raises(ArtifactCorrupt):
        host.backend.prepare(gen, lambda plugin: wheels.weather2)

    assert host.backend.prepared() == []
    assert host.leftovers() == []
    assert not (host.data_dir / "plugins-installed" / PACKAGE).exists()


def test_a_fetch_failure_halfway_leaves_the_active_generation_as_it_was(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)
    host.backend.switch(1)

    def flaky(plugin: GenerationPlugin) -> Path:
        if plugin.name == "peek_plugin_station":
            raise OSError("connection reset")
        return host.fetch(plugin)

    with pytest.raises(OSError, match="connection reset"):
        host.backend.prepare(generation(2, wheels.weather2, wheels.station), flaky)

    assert host.backend.active() == 1
    assert host.backend.prepared() == [1]
    assert host.leftovers() == []


# -- switch and rollback -----------------------------------------------------------------


def test_switch_points_current_at_the_generation(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)

    host.backend.switch(1)

    assert os.readlink(host.data_dir / "generations" / CURRENT_LINK) == "1"
    assert host.backend.active() == 1


def test_switching_to_a_generation_that_is_not_prepared_is_refused(host: Host) -> None:
    with pytest.raises(GenerationNotPrepared, match="generation 7 is not prepared"):
        host.backend.switch(7)

    assert host.backend.active() is None


def test_switching_to_a_generation_with_a_missing_install_is_refused(
    host: Host, wheels: Wheels
) -> None:
    gen = generation(1, wheels.weather1)
    host.backend.prepare(gen, host.fetch)
    (host.backend.install_dir(gen.plugins[PACKAGE]) / INSTALL_MARKER).unlink()

    with pytest.raises(BackendError, match="incomplete on this host"):
        host.backend.switch(1)

    assert host.backend.active() is None


def test_rollback_returns_to_the_earlier_generation(host: Host, wheels: Wheels) -> None:
    for number, wheel in ((1, wheels.weather1), (2, wheels.weather2)):
        host.backend.prepare(generation(number, wheel), host.fetch)
        host.backend.switch(number)

    host.backend.rollback(1)

    assert host.backend.active() == 1
    assert host.backend.prepared() == [1, 2]


def test_rollback_to_the_active_generation_changes_nothing(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)
    host.backend.switch(1)
    before = host.tree()

    host.backend.rollback(1)

    assert host.tree() == before


def test_rollback_to_a_pruned_generation_is_refused(host: Host, wheels: Wheels) -> None:
    for number, wheel in ((1, wheels.weather1), (2, wheels.weather2)):
        host.backend.prepare(generation(number, wheel), host.fetch)
        host.backend.switch(number)
    host.backend.prune(keep=[2])

    with pytest.raises(GenerationNotPrepared):
        host.backend.rollback(1)

    assert host.backend.active() == 2


def test_prune_keeps_the_active_and_listed_generations_and_their_installs(
    host: Host, wheels: Wheels
) -> None:
    gens = [
        generation(1, wheels.weather1, wheels.station),
        generation(2, wheels.weather2, wheels.station),
        generation(3, wheels.weather1),
    ]
    for gen in gens:
        host.backend.prepare(gen, host.fetch)
    host.backend.switch(3)

    host.backend.prune(keep=[2])

    assert host.backend.prepared() == [2, 3]
    installed = sorted(
        str(p.relative_to(host.data_dir / "plugins-installed"))
        for p in (host.data_dir / "plugins-installed").glob("*/*")
    )
    assert installed == sorted(
        str(host.backend.install_dir(p).relative_to(host.data_dir / "plugins-installed"))
        for p in (*gens[1].plugins.values(), gens[2].plugins[PACKAGE])
    )


# -- import check -----------------------------------------------------------------------


def test_import_check_passes_for_a_generation_that_imports(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1, wheels.station)
    host.backend.prepare(gen, host.fetch)

    host.backend.import_check(gen)


def test_import_check_names_the_plugin_and_module_that_fail(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1, wheels.broken)
    host.backend.prepare(gen, host.fetch)

    with pytest.raises(ImportCheckFailed) as caught:
        host.backend.import_check(gen)

    assert caught.value.plugin == "peek_plugin_broken"
    assert caught.value.module == "peek_plugin_broken._private.server"
    assert "RuntimeError: broken on import" in str(caught.value)


def test_import_check_covers_only_the_services_this_host_runs(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.broken_client)
    host.backend.prepare(gen, host.fetch)
    server_only = PlainHostBackend(host.data_dir, services=["server"])

    server_only.import_check(gen)
    with pytest.raises(ImportCheckFailed, match="No module named 'no_such_module_anywhere'"):
        host.backend.import_check(gen)


def test_import_check_of_a_generation_that_is_not_prepared_is_refused(
    host: Host, wheels: Wheels
) -> None:
    with pytest.raises(GenerationNotPrepared):
        host.backend.import_check(generation(1, wheels.weather1))


# -- crashes -------------------------------------------------------------------------------

STEPS = [
    f"fetched:{PACKAGE}",
    f"installed:{PACKAGE}",
    f"moved:{PACKAGE}",
    "composed",
    "prepared",
    "linked",
    "switched",
]

CRASHING_CHILD = """
import os, signal, sys
from pathlib import Path
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backends.plain import PlainHostBackend
from peek.rollout.generations import Generation

data_dir, manifest, crash_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def checkpoint(step):
    if step == crash_at:
        os.kill(os.getpid(), signal.SIGKILL)

store = ArtifactStore.in_data_dir(data_dir)
backend = PlainHostBackend(data_dir, checkpoint=checkpoint)
generation = Generation.from_json(manifest.read_bytes())
backend.prepare(generation, lambda plugin: store.get(plugin.sha256))
backend.switch(generation.number)
"""


def run_child(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "PYTEST"))}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )


def assert_fully_on(host: Host, gen: Generation) -> None:
    """The host runs ``gen`` and nothing of any other generation."""
    assert host.backend.active() == gen.number
    path: list[str] = []
    activation = activate_on_sys_path(host.data_dir, path)
    assert activation is not None
    assert activation.generation == gen
    assert path == [str(host.backend.install_dir(p)) for p in gen.plugins.values()]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_leaves_the_old_or_the_new_generation_whole(
    host: Host, wheels: Wheels, tmp_path: Path, step: str
) -> None:
    old = generation(1, wheels.station)
    host.backend.prepare(old, host.fetch)
    host.backend.switch(1)
    new = generation(2, wheels.weather1, wheels.station)
    manifest = tmp_path / "gen2.json"
    manifest.write_bytes(new.canonical_json())

    child = run_child(CRASHING_CHILD, str(host.data_dir), str(manifest), step, cwd=tmp_path)

    assert child.returncode == -signal.SIGKILL, child.stderr
    assert_fully_on(host, new if step == "switched" else old)
    # After a restart: recovery removes the litter, and the rollout can be done again.
    host.backend.recover()
    assert host.leftovers() == []
    host.backend.prepare(new, host.fetch)
    host.backend.switch(2)
    assert_fully_on(host, new)


def test_recover_without_leftovers_changes_nothing(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)
    host.backend.switch(1)
    before = host.tree()

    host.backend.recover()

    assert host.tree() == before


# -- activation and discovery ----------------------------------------------------------------


def test_activation_without_a_switched_generation_leaves_the_path_alone(host: Host) -> None:
    path = ["/usr/lib/python3"]

    assert activate_on_sys_path(host.data_dir, path) is None
    assert path == ["/usr/lib/python3"]


def test_activation_puts_the_plugin_dirs_first_once(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1, wheels.station)
    host.backend.prepare(gen, host.fetch)
    host.backend.switch(1)
    path = ["/usr/lib/python3", "/venv/site-packages"]

    activation = activate_on_sys_path(host.data_dir, path)
    activate_on_sys_path(host.data_dir, path)

    assert activation is not None
    assert activation.number == 1
    assert activation.plugins == ("peek_plugin_station", PACKAGE)
    assert path == [*map(str, activation.plugin_dirs), "/usr/lib/python3", "/venv/site-packages"]


def test_a_relative_data_dir_puts_absolute_paths_on_the_path(
    host: Host, wheels: Wheels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(host.data_dir.parent)
    backend = PlainHostBackend(Path("data"))
    backend.prepare(generation(1, wheels.weather1), host.fetch)
    backend.switch(1)
    path: list[str] = []

    activate_on_sys_path(Path("data"), path)

    assert [Path(p).is_absolute() for p in path] == [True]
    assert Path(path[0], PACKAGE, "plugin.toml").is_file()


def test_activation_of_a_damaged_generation_is_refused(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather1)
    host.backend.prepare(gen, host.fetch)
    host.backend.switch(1)
    (host.backend.install_dir(gen.plugins[PACKAGE]) / INSTALL_MARKER).unlink()
    path: list[str] = []

    with pytest.raises(BackendError, match="the active generation 1 is damaged"):
        activate_on_sys_path(host.data_dir, path)

    assert path == []


DISCOVERING_CHILD = """
import json, sys
from pathlib import Path
from peek.plugin.discovery import discover
from peek.rollout.backends.plain import activate_on_sys_path

data_dir, cache = Path(sys.argv[1]), Path(sys.argv[2])
activation = activate_on_sys_path(data_dir)
specs, errors = discover(activation.plugins, cache_file=cache)
hook = specs[0].hook_factory("server")
print(json.dumps({
    "generation": activation.number,
    "plugins": {s.name: [str(s.manifest.version), str(s.package_dir)] for s in specs},
    "errors": [str(e) for e in errors],
    "hook": f"{hook.__module__}:{hook.__qualname__}",
    "hook_file": sys.modules[hook.__module__].__file__,
}))
"""


def test_a_service_started_after_a_switch_discovers_the_generations_plugin(
    host: Host, wheels: Wheels, tmp_path: Path
) -> None:
    cache = tmp_path / "discovery.json"
    seen = {}
    for number, wheel in ((1, wheels.weather1), (2, wheels.weather2)):
        gen = generation(number, wheel)
        host.backend.prepare(gen, host.fetch)
        host.backend.switch(number)
        # One cache file for both starts: it must notice the path changed.
        child = run_child(DISCOVERING_CHILD, str(host.data_dir), str(cache), cwd=tmp_path)
        assert child.returncode == 0, child.stderr
        seen[number] = json.loads(child.stdout)
        install = host.backend.install_dir(gen.plugins[PACKAGE])
        assert seen[number]["plugins"] == {
            PACKAGE: [gen.plugins[PACKAGE].version, str(install / PACKAGE)]
        }
        assert seen[number]["hook_file"].startswith(str(install))

    assert [seen[n]["generation"] for n in (1, 2)] == [1, 2]
    assert seen[1]["errors"] == seen[2]["errors"] == []
    assert seen[2]["hook"] == f"{PACKAGE}._private.server:ServerHook"


def test_fetching_nothing_when_every_install_is_there(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather1), host.fetch)
    host.fetched.clear()
    fail: Callable[[GenerationPlugin], Path] = lambda p: (_ for _ in ()).throw(  # noqa: E731
        AssertionError("fetched")
    )

    host.backend.prepare(generation(2, wheels.weather1), fail)

    assert host.backend.prepared() == [1, 2]
