"""The generation a manual ``nixos-rebuild`` builds: root's ``/var/lib/peek-rebuild/current``.

The system flakes' default ``peek-generation`` input is root's copy of the
generation the running system was built from; ``modules/peek-rebuild.sh``
keeps it, and ``modules/rebuild.nix`` creates it empty before the first
rollout. The script runs here for real with the fake ``nix``, ``nix-env``
and ``systemctl`` of tests/rollout/test_nixos_backend.py.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rollout.test_nixos_backend import make_fakes

from appliance.nixeval import REPO, evaluate_modules

SCRIPT = REPO / "modules" / "peek-rebuild.sh"
TIMEOUT = 60
SERVICES = "{ services.peek.server.enable = true; }"
REBUILD = '{ services.peek.rebuild = { enable = true; flake = "path:/etc/nixos"; }; }'


@dataclass
class Root:
    """One host's oneshot, its state directory and the service user's generations."""

    flake_dir: Path
    request_dir: Path
    state: Path
    fake: Path
    env: dict[str, str]

    def compose(self, number: int, *wheels: str) -> Path:
        """A generation directory as the service writes it (lock, manifest, wheels)."""
        gen = self.flake_dir / "generations" / str(number)
        (gen / "wheels").mkdir(parents=True)
        for wheel in wheels:
            (gen / "wheels" / wheel).write_text(f"{wheel} of generation {number}")
        (gen / "generation.json").write_text(json.dumps({"number": number}))
        lock = {"generation": number, "plugins": {w: {"wheel": f"wheels/{w}"} for w in wheels}}
        (gen / "generation.lock.json").write_text(json.dumps(lock))
        return gen

    def ask(self, action: str, number: int) -> dict[str, Any]:
        """Leave a request as the service does, run the oneshot, return its answer."""
        request_id = secrets.token_hex(16)
        self.request_dir.mkdir(parents=True, exist_ok=True)
        (self.request_dir / "request").write_text(
            f"id={request_id}\naction={action}\ngeneration={number}\n"
        )
        subprocess.run(
            ["bash", str(SCRIPT)], env=self.env, capture_output=True, timeout=TIMEOUT, check=False
        )
        answer: dict[str, Any] = json.loads(
            (self.state / "results" / f"{request_id}.json").read_text()
        )
        return answer

    def current(self) -> dict[str, Any]:
        """The current generation: its lock, manifest and wheel files with their text."""
        current = self.state / "current"
        return {
            "lock": json.loads((current / "generation.lock.json").read_text()),
            "manifest": json.loads((current / "generation.json").read_text()),
            "wheels": {p.name: p.read_text() for p in (current / "wheels").iterdir()},
        }


@pytest.fixture
def root(tmp_path: Path) -> Root:
    fake = tmp_path / "fake"
    bin_dir = make_fakes(fake)
    flake_dir = tmp_path / "data" / "system-flake"
    request_dir = tmp_path / "data" / "rebuild"
    state = tmp_path / "peek-rebuild"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE": str(fake),
        "PEEK_REBUILD_REQUEST_DIR": str(request_dir),
        "PEEK_REBUILD_FLAKE_DIR": str(flake_dir),
        "PEEK_REBUILD_STATE_DIR": str(state),
        "PEEK_REBUILD_FLAKE": "path:/etc/nixos",
        "PEEK_REBUILD_CONFIGURATION": "appliance",
        "PEEK_REBUILD_UNITS": "peek-server.service",
        "PEEK_REBUILD_HEALTH_TIMEOUT": "5",
        "PEEK_REBUILD_SETTLE": "0",
        "PEEK_REBUILD_NIX": str(bin_dir / "nix"),
        "PEEK_REBUILD_PROFILE": str(fake / "profiles" / "system"),
        "PEEK_REBUILD_CURRENT_SYSTEM": str(fake / "current-system"),
    }
    return Root(flake_dir, request_dir, state, fake, env)


def switched(root: Root, number: int, *wheels: str) -> None:
    root.compose(number, *wheels)
    assert root.ask("build", number)["ok"]
    assert root.ask("switch", number)["ok"]


def test_a_build_evaluates_roots_own_copy_of_the_generation(root: Root) -> None:
    gen = root.compose(1, "a.whl")

    assert root.ask("build", 1)["ok"]

    copy = root.state / "generations" / "1"
    (build,) = (root.fake / "nix.log").read_text().splitlines()
    assert f"--override-input peek-generation path:{copy}" in build
    assert (copy / "wheels" / "a.whl").read_text() == (gen / "wheels" / "a.whl").read_text()
    assert (copy / "generation.lock.json").read_bytes() == (
        gen / "generation.lock.json"
    ).read_bytes()


def test_what_the_service_user_changes_after_the_build_is_not_what_root_built(root: Root) -> None:
    gen = root.compose(1, "a.whl")
    root.ask("build", 1)

    (gen / "wheels" / "a.whl").write_text("changed by the service user")
    assert root.ask("switch", 1)["ok"]

    assert root.current()["wheels"] == {"a.whl": "a.whl of generation 1"}


def test_a_healthy_switch_makes_its_generation_the_current_one(root: Root) -> None:
    switched(root, 1, "a.whl")

    current = root.current()
    assert current["lock"]["generation"] == 1
    assert current["manifest"] == {"number": 1}
    assert current["wheels"] == {"a.whl": "a.whl of generation 1"}


def test_a_build_alone_leaves_the_current_generation(root: Root) -> None:
    switched(root, 1, "a.whl")
    root.compose(2, "b.whl")

    assert root.ask("build", 2)["ok"]

    assert root.current()["lock"]["generation"] == 1


def test_a_switch_that_fails_its_health_wait_leaves_the_current_generation(root: Root) -> None:
    switched(root, 1, "a.whl")
    root.compose(2, "b.whl")
    root.ask("build", 2)
    (root.fake / "unhealthy-2").touch()

    answer = root.ask("switch", 2)

    assert not answer["ok"]
    assert root.current()["lock"]["generation"] == 1
    assert root.current()["wheels"] == {"a.whl": "a.whl of generation 1"}


def test_the_current_generation_holds_only_the_wheels_its_lock_names(root: Root) -> None:
    switched(root, 1, "a.whl", "b.whl")

    switched(root, 2, "b.whl", "c.whl")

    assert root.current()["wheels"] == {
        "b.whl": "b.whl of generation 2",
        "c.whl": "c.whl of generation 2",
    }
    assert sorted(root.current()["lock"]["plugins"]) == ["b.whl", "c.whl"]


def test_a_rollback_makes_the_earlier_generation_current_again(root: Root) -> None:
    switched(root, 1, "a.whl")
    switched(root, 2, "b.whl")

    assert root.ask("rollback", 1)["ok"]

    assert root.current()["lock"]["generation"] == 1
    assert root.current()["wheels"] == {"a.whl": "a.whl of generation 1"}


def test_root_drops_its_copy_of_a_generation_the_service_pruned(root: Root) -> None:
    switched(root, 1, "a.whl")
    root.compose(2, "b.whl")
    root.ask("build", 2)
    for path in sorted((root.flake_dir / "generations" / "2").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root.flake_dir / "generations" / "2").rmdir()
    root.compose(3, "c.whl")

    root.ask("build", 3)

    assert sorted(p.name for p in (root.state / "generations").iterdir()) == ["1", "3"]
    assert root.current()["lock"]["generation"] == 1


# -- the module ----------------------------------------------------------------------------------


def test_before_the_first_rollout_the_current_generation_is_an_empty_lock() -> None:
    result = evaluate_modules(SERVICES, REBUILD)
    state = result["services"]["peek-rebuild"]["environment"]["PEEK_REBUILD_STATE_DIR"]
    assert result["tmpfiles"] == [
        f"d {state} 0755 root root -",
        f"d {state}/current 0755 root root -",
        f'f {state}/current/generation.lock.json 0644 root root - {{"plugins":{{}}}}',
    ]


def test_a_system_built_from_the_empty_lock_is_the_one_built_without_a_lock(tmp_path: Path) -> None:
    lock = tmp_path / "generation.lock.json"
    lock.write_text('{"plugins":{}}')
    plugins = (
        "{ pkgs, ... }: { services.peek.plugins = [ pkgs.python3Packages.peek-plugin-user ]; }"
    )

    without = evaluate_modules(SERVICES, REBUILD, plugins)
    empty = evaluate_modules(
        SERVICES, REBUILD, plugins, f"{{ services.peek.generationLock = {lock}; }}"
    )

    assert empty["services"] == without["services"]
    assert empty["environmentPath"] == without["environmentPath"]
    assert "generation" not in empty["settings"]["rollout"]["nixos"]
