"""``peek.rollout.backends.nixos``: locks beside the running one, switches by root's oneshot.

The oneshot here is the real ``modules/peek-rebuild.sh``, run by a thread
that plays ``peek-rebuild.path`` (it starts the script when a request
appears). Only what needs a NixOS host is faked, as small executables on
its PATH: ``nix build`` makes a directory with a ``bin/switch-to-configuration``
that records its activations (and its ``--out-link``), ``nix-env --set``
makes profile links, and ``systemctl show`` reports the Peek units' state
from a file. A ``switch-to-configuration test`` also stops the process
named in ``$FAKE/restarts-pid``, as systemd restarts the Peek unit that
asked for the switch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from appliance.nixeval import NixError, evaluate_modules

import peek
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backends.nixos import (
    LOCK_FILE,
    REQUEST_FILE,
    NixosHostBackend,
    RebuildFailed,
    RebuildTimeout,
)
from peek.rollout.errors import (
    ArtifactCorrupt,
    BackendError,
    GenerationConflict,
    GenerationNotPrepared,
)
from peek.rollout.generations import Generation, GenerationPlugin
from peek.rollout.wheels import read_plugin_wheel

from .conftest import Built
from .sites import file_digest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "modules" / "peek-rebuild.sh"
WHEN = datetime(2024, 5, 1, tzinfo=UTC)
WAIT = 30.0
CHILD_TIMEOUT = 60.0

FAKE_NIX = r"""#!/bin/bash
# nix build --out-link <link> ... --override-input peek-generation path:<dir> <flake#attr>
set -eu
echo "$*" >>"$FAKE/nix.log"
link=''
while [[ $1 != --override-input ]]; do
  if [[ $1 == --out-link ]]; then link=$2; fi
  shift
done
dir=${3#path:}
gen=${dir##*/}
if [[ -e $FAKE/build-fails-$gen ]]; then
  echo "error: builder for peek-plugin-$gen failed with exit code 1" >&2
  exit 1
fi
system=$FAKE/store/system-$gen
mkdir -p "$system/bin"
cp "$dir/generation.lock.json" "$system/"
cat >"$system/bin/switch-to-configuration" <<EOF
#!/bin/bash
echo "$system \$1" >>"$FAKE/activations"
if [[ \$1 == test ]]; then
  [[ -e $FAKE/activation-fails-$gen ]] && exit 4
  ln -sfn "$system" "$FAKE/current-system"
  if [[ -e $FAKE/unhealthy-$gen ]]; then echo failed
  elif [[ -e $FAKE/never-ready-$gen ]]; then echo activating
  else echo active; fi >"$FAKE/unit-state"
  if [[ -e $FAKE/restarts-pid ]]; then kill -TERM "\$(cat $FAKE/restarts-pid)" || true; fi
fi
exit 0
EOF
chmod +x "$system/bin/switch-to-configuration"
if [[ -n $link ]]; then ln -sfn "$system" "$link"; fi
echo "$system"
"""

FAKE_NIX_ENV = r"""#!/bin/bash
# nix-env --profile <profile> --set <path>
set -eu
profile=$2 target=$4
n=$(ls -d "$profile"-*-link 2>/dev/null | wc -l)
ln -s "$target" "$profile-$((n + 1))-link"
ln -sfn "${profile##*/}-$((n + 1))-link" "$profile"
"""

FAKE_SYSTEMCTL = r"""#!/bin/bash
# systemctl show -P ActiveState -- <unit>
cat "$FAKE/unit-state"
"""


@dataclass(frozen=True)
class Wheels:
    weather: Path
    station: Path


@pytest.fixture(scope="module")
def wheels(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    out = tmp_path_factory.mktemp("nixos-wheels")
    station = built.files().renamed("station")
    return Wheels(weather=built.wheel, station=station.write(out))


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
class Oneshot:
    """Plays peek-rebuild.path: runs the real oneshot script when a request appears."""

    env: dict[str, str]
    request: Path
    fake: Path
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        while not self.stop.is_set():
            if self.request.exists():
                self.runs.append(
                    subprocess.run(
                        ["bash", str(SCRIPT)],
                        env=self.env,
                        capture_output=True,
                        text=True,
                        timeout=CHILD_TIMEOUT,
                        check=False,
                    )
                )
            self.stop.wait(0.02)

    def activations(self) -> list[str]:
        path = self.fake / "activations"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.replace(str(self.fake / "store") + "/", "") for line in lines]


@dataclass
class Host:
    data_dir: Path
    state_dir: Path
    store: ArtifactStore
    backend: NixosHostBackend
    oneshot: Oneshot

    def fetch(self, plugin: GenerationPlugin) -> Path:
        return self.store.get(plugin.sha256)

    def lock(self, number: int) -> dict[str, Any]:
        path = self.backend.generation_dir(number) / LOCK_FILE
        data: dict[str, Any] = json.loads(path.read_text())
        return data


def make_fakes(fake: Path) -> Path:
    bin_dir = fake / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (
        ("nix", FAKE_NIX),
        ("nix-env", FAKE_NIX_ENV),
        ("systemctl", FAKE_SYSTEMCTL),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (fake / "store" / "booted").mkdir(parents=True)
    (fake / "store" / "booted" / "bin").mkdir()
    booted = fake / "store" / "booted" / "bin" / "switch-to-configuration"
    booted.write_text(f'#!/bin/bash\necho "{fake}/store/booted $1" >>"{fake}/activations"\n')
    booted.chmod(0o755)
    (fake / "current-system").symlink_to(fake / "store" / "booted")
    (fake / "unit-state").write_text("active\n")
    (fake / "profiles").mkdir()
    return bin_dir


@pytest.fixture
def host(tmp_path: Path, wheels: Wheels) -> Iterator[Host]:
    data_dir = tmp_path / "data"
    state_dir = tmp_path / "peek-rebuild"
    fake = tmp_path / "fake"
    bin_dir = make_fakes(fake)
    store = ArtifactStore.in_data_dir(data_dir)
    for path in (wheels.weather, wheels.station):
        store.add(path)
    backend = NixosHostBackend(
        data_dir / "system-flake", data_dir / "rebuild", state_dir, rebuild_timeout=WAIT
    )
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE": str(fake),
        "PEEK_REBUILD_REQUEST_DIR": str(data_dir / "rebuild"),
        "PEEK_REBUILD_FLAKE_DIR": str(data_dir / "system-flake"),
        "PEEK_REBUILD_STATE_DIR": str(state_dir),
        "PEEK_REBUILD_FLAKE": "path:/etc/nixos",
        "PEEK_REBUILD_CONFIGURATION": "appliance",
        "PEEK_REBUILD_UNITS": "peek-server.service peek-worker.service",
        "PEEK_REBUILD_HEALTH_TIMEOUT": "5",
        "PEEK_REBUILD_SETTLE": "0",
        "PEEK_REBUILD_NIX": str(bin_dir / "nix"),
        "PEEK_REBUILD_PROFILE": str(fake / "profiles" / "system"),
        "PEEK_REBUILD_CURRENT_SYSTEM": str(fake / "current-system"),
    }
    oneshot = Oneshot(env, data_dir / "rebuild" / REQUEST_FILE, fake)
    watcher = threading.Thread(target=oneshot.watch, daemon=True)
    watcher.start()
    yield Host(data_dir, state_dir, store, backend, oneshot)
    oneshot.stop.set()
    watcher.join(WAIT)


# -- prepare ------------------------------------------------------------------------------


def test_prepare_writes_the_lock_with_version_sha256_and_wheel_path(
    host: Host, wheels: Wheels
) -> None:
    gen = generation(1, wheels.weather, wheels.station)

    prepared = host.backend.prepare(gen, host.fetch)

    lock = host.lock(1)
    assert lock["generation"] == 1 and lock["digest"] == gen.digest()
    for plugin in gen.plugins.values():
        item = lock["plugins"][plugin.name]
        assert item == {
            "version": plugin.version,
            "sha256": plugin.sha256,
            "wheel": f"wheels/{plugin.wheel}",
        }
        assert file_digest(host.backend.generation_dir(1) / item["wheel"]) == plugin.sha256
    assert prepared.restart_required and prepared.plugin_paths == ()
    assert host.backend.prepared() == [1]
    assert host.backend.active() is None


def test_prepare_has_root_build_the_system_and_activates_nothing(
    host: Host, wheels: Wheels
) -> None:
    prepared = host.backend.prepare(generation(1, wheels.weather), host.fetch)

    system = str(host.oneshot.fake / "store" / "system-1")
    assert prepared.location == system
    assert host.backend.built(1) == system
    (build,) = (host.oneshot.fake / "nix.log").read_text().splitlines()
    roots_copy = host.state_dir / "generations" / "1"
    assert f"--override-input peek-generation path:{roots_copy}" in build
    assert f"--out-link {host.state_dir}/built/1" in build, "a GC root until the switch"
    assert 'path:/etc/nixos#nixosConfigurations."appliance".config.system.build.toplevel' in build
    assert host.oneshot.activations() == []
    assert host.backend.active() is None


def test_preparing_a_built_generation_again_does_not_build_again(
    host: Host, wheels: Wheels
) -> None:
    gen = generation(1, wheels.weather)
    host.backend.prepare(gen, host.fetch)

    again = host.backend.prepare(gen, host.fetch)

    assert again.reused == tuple(gen.plugins) and again.installed == ()
    assert len((host.oneshot.fake / "nix.log").read_text().splitlines()) == 1


def test_prepare_leaves_the_running_generation_byte_for_byte_alone(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    before = {p: p.read_bytes() for p in host.backend.generation_dir(1).rglob("*") if p.is_file()}

    host.backend.prepare(generation(2, wheels.weather, wheels.station), host.fetch)

    after = {p: p.read_bytes() for p in host.backend.generation_dir(1).rglob("*") if p.is_file()}
    assert after == before
    assert host.backend.prepared() == [1, 2]


def test_a_different_manifest_under_a_prepared_number_is_refused(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    with pytest.raises(GenerationConflict):
        host.backend.prepare(generation(1, wheels.station), host.fetch)


def test_a_wheel_with_the_wrong_hash_is_refused_and_leaves_nothing(
    host: Host, wheels: Wheels, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not the wheel")
    with pytest.raises(ArtifactCorrupt):
        host.backend.prepare(generation(1, wheels.weather), lambda plugin: bad)
    assert host.backend.prepared() == []
    assert list(host.backend.generations_root.iterdir()) == []


def test_import_check_imports_the_prepared_wheels(host: Host, wheels: Wheels) -> None:
    gen = generation(1, wheels.weather)
    host.backend.prepare(gen, host.fetch)
    host.backend.import_check(gen)  # raises if the plugin does not import


# -- switch and rollback --------------------------------------------------------------------


def test_switch_activates_the_built_system_waits_for_health_then_makes_it_the_boot_default(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)

    host.backend.switch(1)

    assert host.oneshot.activations() == ["system-1 test", "system-1 boot"]
    assert host.backend.active() == 1
    system = host.backend.active_system()
    assert system is not None and system.system_generation == 1
    assert system.system == str(host.oneshot.fake / "store" / "system-1")
    assert len((host.oneshot.fake / "nix.log").read_text().splitlines()) == 1, "built once"
    assert not (host.data_dir / "rebuild" / REQUEST_FILE).exists()
    assert host.backend.interrupted() is None, "nothing left in flight"


def test_a_failed_build_fails_prepare_with_the_builders_output_and_activates_nothing(
    host: Host, wheels: Wheels
) -> None:
    (host.oneshot.fake / "build-fails-1").touch()

    with pytest.raises(RebuildFailed) as caught:
        host.backend.prepare(generation(1, wheels.weather), host.fetch)

    assert caught.value.action == "build"
    assert "building the system failed" in caught.value.reason
    assert "builder for peek-plugin-1 failed" in caught.value.reason
    assert str(caught.value).startswith("building the system for plugin generation 1 failed")
    assert host.oneshot.activations() == []
    assert host.backend.prepared() == [] and host.backend.built(1) is None
    assert host.backend.active() is None
    with pytest.raises(GenerationNotPrepared):
        host.backend.switch(1)


def test_root_refuses_to_switch_to_a_generation_it_has_not_built(
    host: Host, wheels: Wheels
) -> None:
    (host.oneshot.fake / "build-fails-1").touch()
    with pytest.raises(RebuildFailed):
        host.backend.prepare(generation(1, wheels.weather), host.fetch)
    request = host.data_dir / "rebuild" / REQUEST_FILE
    request.write_text("id=" + "b" * 32 + "\naction=switch\ngeneration=1\n")

    result = host.state_dir / "results" / ("b" * 32 + ".json")
    deadline = time.monotonic() + WAIT
    while not result.exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    answer = json.loads(result.read_text())
    assert answer["ok"] is False
    assert answer["reason"] == "plugin generation 1 has not been built (prepare it first)"
    assert host.oneshot.activations() == []


def test_an_unhealthy_new_system_is_switched_back_and_the_reason_reported(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)
    host.backend.prepare(generation(2, wheels.weather, wheels.station), host.fetch)
    (host.oneshot.fake / "unhealthy-2").touch()

    with pytest.raises(RebuildFailed) as caught:
        host.backend.switch(2)

    assert caught.value.reason == "the new system is unhealthy: peek-server.service is failed"
    assert caught.value.system_generation == 1, "the boot default did not move"
    assert host.oneshot.activations()[-2:] == ["system-2 test", "system-1 test"]
    assert host.backend.active() == 1


def test_units_that_never_become_ready_time_out_and_are_switched_back(
    host: Host, wheels: Wheels
) -> None:
    host.oneshot.env["PEEK_REBUILD_HEALTH_TIMEOUT"] = "1"
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    (host.oneshot.fake / "never-ready-1").touch()

    with pytest.raises(RebuildFailed) as caught:
        host.backend.switch(1)

    assert caught.value.reason == (
        "the new system is unhealthy: peek-worker.service not ready after 1s"
    )
    assert host.oneshot.activations() == ["system-1 test", "booted test"]
    assert host.backend.active() is None


def test_a_failed_activation_switches_back(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    (host.oneshot.fake / "activation-fails-1").touch()

    with pytest.raises(RebuildFailed, match="activating the new system failed"):
        host.backend.switch(1)

    assert host.oneshot.activations() == ["system-1 test", "booted test"]


def test_switching_to_a_generation_that_is_not_prepared_is_refused(host: Host) -> None:
    with pytest.raises(GenerationNotPrepared):
        host.backend.switch(3)
    assert not (host.data_dir / "rebuild" / REQUEST_FILE).exists()


def test_rollback_reactivates_the_system_of_the_earlier_generation_without_a_rebuild(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)
    host.backend.prepare(generation(2, wheels.weather, wheels.station), host.fetch)
    host.backend.switch(2)

    host.backend.rollback(1)

    assert host.backend.active() == 1
    system = host.backend.active_system()
    assert system is not None and system.system_generation == 3, "a new boot default"
    assert host.oneshot.activations()[-2:] == ["system-1 test", "system-1 boot"]
    assert len((host.oneshot.fake / "nix.log").read_text().splitlines()) == 2


def test_rollback_to_the_active_generation_changes_nothing(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)

    host.backend.rollback(1)

    assert host.oneshot.activations() == ["system-1 test", "system-1 boot"]


def test_a_request_nobody_takes_times_out_and_is_withdrawn(
    host: Host, wheels: Wheels, tmp_path: Path
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()  # peek-rebuild.path is not there any more
    backend = NixosHostBackend(
        host.backend.flake_dir, host.data_dir / "rebuild", host.state_dir, rebuild_timeout=0.3
    )

    with pytest.raises(RebuildTimeout) as caught:
        backend.switch(1)

    assert caught.value.taken is False
    assert not (host.data_dir / "rebuild" / REQUEST_FILE).exists()
    assert backend.active() is None


def test_a_taken_request_without_an_answer_times_out_saying_it_still_runs(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()
    backend = NixosHostBackend(
        host.backend.flake_dir, host.data_dir / "rebuild", host.state_dir, rebuild_timeout=0.5
    )
    request = host.data_dir / "rebuild" / REQUEST_FILE

    def hung_oneshot() -> None:
        deadline = time.monotonic() + WAIT
        while not request.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        request.rename(request.with_name(".taken"))

    taker = threading.Thread(target=hung_oneshot)
    taker.start()
    with pytest.raises(RebuildTimeout, match="still running") as caught:
        backend.switch(1)
    taker.join(WAIT)
    assert caught.value.taken is True
    left = backend.interrupted()
    assert left is not None and (left.action, left.generation) == ("switch", 1)
    assert not left.answered, "kept: its answer may still come"


def test_a_second_request_while_one_is_pending_is_refused(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()
    request = host.data_dir / "rebuild" / REQUEST_FILE
    request.write_text("id=" + "0" * 32 + "\naction=switch\ngeneration=1\n")

    with pytest.raises(Exception, match="another rebuild request is pending"):
        host.backend.switch(1)


@pytest.mark.parametrize(
    "body",
    [
        "id=../../etc\naction=switch\ngeneration=1\n",
        "id=" + "a" * 32 + "\naction=rm -rf /\ngeneration=1\n",
        "id=" + "a" * 32 + "\naction=switch\ngeneration=1; reboot\n",
    ],
    ids=["bad-id", "bad-action", "bad-generation"],
)
def test_the_oneshot_refuses_a_malformed_request_without_building(host: Host, body: str) -> None:
    request = host.data_dir / "rebuild" / REQUEST_FILE
    request.parent.mkdir(parents=True)
    request.write_text(body)

    deadline = time.monotonic() + WAIT
    while not host.oneshot.runs and time.monotonic() < deadline:
        time.sleep(0.02)

    (run,) = host.oneshot.runs
    assert run.returncode != 0
    assert not (host.oneshot.fake / "nix.log").exists()
    assert host.oneshot.activations() == []
    results = list((host.state_dir / "results").glob("*.json"))
    if body.startswith("id=../"):
        assert results == [], "no result file named after an invalid id"
    else:
        (result,) = results
        assert json.loads(result.read_text())["ok"] is False


# -- crashes ----------------------------------------------------------------------------------

CRASHING_CHILD = """
import os, signal, sys
from pathlib import Path
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backends.nixos import NixosHostBackend
from peek.rollout.generations import Generation

data_dir, state_dir, manifest, crash_at = map(sys.argv.__getitem__, range(1, 5))

def checkpoint(step):
    if step == crash_at:
        os.kill(os.getpid(), signal.SIGKILL)

store = ArtifactStore.in_data_dir(Path(data_dir))
backend = NixosHostBackend(
    Path(data_dir) / "system-flake", Path(data_dir) / "rebuild", Path(state_dir),
    checkpoint=checkpoint,
)
generation = Generation.from_json(Path(manifest).read_bytes())
backend.prepare(generation, lambda plugin: store.get(plugin.sha256))
"""


@pytest.mark.parametrize("step", ["wheels", "composed", "prepared", "built"])
def test_a_crash_while_preparing_leaves_the_running_lock_intact_and_the_new_one_whole_or_absent(
    host: Host, wheels: Wheels, tmp_path: Path, step: str
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)
    lock1 = (host.backend.generation_dir(1) / LOCK_FILE).read_bytes()
    new = generation(2, wheels.weather, wheels.station)
    manifest = tmp_path / "gen2.json"
    manifest.write_bytes(new.canonical_json())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "PYTEST"))}

    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(host.data_dir), str(host.state_dir),
         str(manifest), step],
        env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False,
    )  # fmt: skip

    assert child.returncode == -signal.SIGKILL, child.stderr
    assert (host.backend.generation_dir(1) / LOCK_FILE).read_bytes() == lock1
    assert host.backend.active() == 1
    if step == "built":
        assert host.backend.prepared() == [1, 2]
        assert host.lock(2)["digest"] == new.digest()
    elif step == "prepared":
        assert host.backend.prepared() == [1], "composed, not built yet: prepared again"
        assert host.lock(2)["digest"] == new.digest()
    else:
        assert host.backend.prepared() == [1]
        assert not host.backend.generation_dir(2).exists()
    host.backend.recover()
    assert [
        p.name for p in host.backend.generations_root.iterdir() if p.name.startswith(".tmp")
    ] == []
    host.backend.prepare(new, host.fetch)
    host.backend.switch(2)
    assert host.backend.active() == 2


def test_prune_keeps_the_active_generation(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)
    host.backend.prepare(generation(2, wheels.station), host.fetch)
    host.backend.prepare(generation(3, wheels.weather, wheels.station), host.fetch)

    host.backend.prune(keep=[3])

    assert host.backend.prepared() == [1, 3]


def test_root_drops_the_build_of_a_pruned_generation_at_its_next_request(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.backend.switch(1)
    host.backend.prepare(generation(2, wheels.station), host.fetch)
    host.backend.prune(keep=[])
    assert host.backend.built(2) is not None, "root's record: the service cannot remove it"

    host.backend.prepare(generation(3, wheels.weather, wheels.station), host.fetch)

    assert host.backend.built(2) is None
    assert host.backend.built(1) is not None and host.backend.built(3) is not None


def test_the_lock_a_prepare_writes_is_what_the_nixos_module_builds_from(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather, wheels.station), host.fetch)
    lock = host.backend.generation_dir(1) / LOCK_FILE

    result = evaluate_modules(
        f"{{ services.peek.server.enable = true; services.peek.generationLock = {lock}; }}"
    )

    assert result["environmentPlugins"] == sorted(["peek_plugin_weather", "peek_plugin_station"])


def test_a_wheel_that_does_not_match_its_lock_fails_evaluation(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    lock = host.backend.generation_dir(1) / LOCK_FILE
    (wheel,) = (host.backend.generation_dir(1) / "wheels").iterdir()
    wheel.unlink()  # replaced, not written through: it may be a link shared with another generation
    wheel.write_bytes(b"something else")

    with pytest.raises(NixError, match=r"mismatch in .*peek_plugin_weather-0\.1\.0"):
        evaluate_modules(
            f"{{ services.peek.server.enable = true; services.peek.generationLock = {lock}; }}"
        )


# -- a switch restarts the service that asked for it ------------------------------------------

SWITCHING_CHILD = """
import sys
from pathlib import Path
from peek.rollout.backends.nixos import NixosHostBackend

data_dir, state_dir, number = sys.argv[1:4]
backend = NixosHostBackend(
    Path(data_dir) / "system-flake", Path(data_dir) / "rebuild", Path(state_dir)
)
backend.switch(int(number))
"""


def switch_in_a_child_that_the_switch_stops(host: Host, number: int) -> int:
    """Plays a Peek service asking for a switch and being restarted by it; its exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "PYTEST"))}
    child = subprocess.Popen(
        [sys.executable, "-c", SWITCHING_CHILD, str(host.data_dir), str(host.state_dir),
         str(number)],
        env=env,
    )  # fmt: skip
    (host.oneshot.fake / "restarts-pid").write_text(str(child.pid))
    return child.wait(CHILD_TIMEOUT)


def test_after_the_restart_its_switch_is_found_and_roots_answer_read(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)

    assert switch_in_a_child_that_the_switch_stops(host, 1) == -signal.SIGTERM

    restarted = NixosHostBackend(host.backend.flake_dir, host.data_dir / "rebuild", host.state_dir)
    left = restarted.wait_interrupted(WAIT)
    assert left is not None and (left.action, left.generation) == ("switch", 1)
    assert left.failure is None and left.result is not None
    assert left.result.system_generation == 1
    assert restarted.active() == 1
    assert host.oneshot.activations() == ["system-1 test", "system-1 boot"]
    restarted.forget_interrupted(left.request_id)
    assert restarted.interrupted() is None


def test_after_the_restart_a_switch_root_undid_is_found_with_its_reason(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    (host.oneshot.fake / "unhealthy-1").touch()

    assert switch_in_a_child_that_the_switch_stops(host, 1) == -signal.SIGTERM

    restarted = NixosHostBackend(host.backend.flake_dir, host.data_dir / "rebuild", host.state_dir)
    left = restarted.wait_interrupted(WAIT)
    assert left is not None and left.result is None and left.failure is not None
    assert left.failure.reason == "the new system is unhealthy: peek-server.service is failed"
    assert restarted.active() is None
    assert host.oneshot.activations() == ["system-1 test", "booted test"]


def test_a_request_is_refused_while_root_still_runs_one_an_earlier_process_asked_for(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()
    host.backend.ask("switch", 1)
    request = host.data_dir / "rebuild" / REQUEST_FILE
    request.rename(request.with_name(".taken"))  # root took it and works on it

    restarted = NixosHostBackend(host.backend.flake_dir, host.data_dir / "rebuild", host.state_dir)
    with pytest.raises(BackendError, match="that an earlier process asked for is still running"):
        restarted.switch(1)
    assert not request.exists()


def test_recovery_forgets_a_request_left_before_a_reboot(host: Host, wheels: Wheels) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()
    host.backend.ask("switch", 1)
    request = host.data_dir / "rebuild" / REQUEST_FILE
    request.rename(request.with_name(".taken"))
    in_flight = host.data_dir / "rebuild" / "in-flight.json"
    record = json.loads(in_flight.read_text())
    in_flight.write_text(json.dumps({**record, "boot": "an earlier boot"}))

    host.backend.recover()

    assert host.backend.interrupted() is None


def test_a_service_that_stops_while_waiting_for_root_gives_up_at_once_leaving_the_request(
    host: Host, wheels: Wheels
) -> None:
    host.backend.prepare(generation(1, wheels.weather), host.fetch)
    host.oneshot.stop.set()  # root takes nothing: the wait would last its whole timeout
    failures: list[BaseException] = []

    def switch() -> None:
        try:
            host.backend.switch(1)
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    waiting = threading.Thread(target=switch)
    waiting.start()
    while not (host.data_dir / "rebuild" / REQUEST_FILE).exists():
        time.sleep(0.01)
    host.backend.stop_waiting()
    waiting.join(CHILD_TIMEOUT)

    assert not waiting.is_alive()
    [failure] = failures
    assert isinstance(failure, BackendError) and "stopped while waiting for root" in str(failure)
    left = host.backend.interrupted()
    assert left is not None and (left.action, left.generation) == ("switch", 1)
    assert (host.data_dir / "rebuild" / REQUEST_FILE).exists(), "still for root to take"
