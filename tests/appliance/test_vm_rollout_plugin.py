"""The plugin the rollout VM test uploads (vm_tests/rollout-plugin/), built here the way
vm_tests/rollout-plugin.nix builds it: the server accepts both wheels, and only the
broken one refuses to start."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.nixeval import REPO
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.validate import StagingArea, validate_upload
from peek.rollout.wheels import install_wheel

PROJECT = REPO / "vm_tests" / "rollout-plugin"
NIX_BUILD = REPO / "vm_tests" / "rollout-plugin.nix"
HOOK = "peek_plugin_vmcheck._private.hook:Hook"
BUILD_TIMEOUT = 120


def _substitutions() -> list[tuple[str, str, str]]:
    """(file, old, new) of each `substituteInPlace FILE --replace-fail 'OLD' 'NEW'`."""
    text = NIX_BUILD.read_text()
    found = re.findall(
        r"substituteInPlace (\S+) \\\s*--replace-fail '([^']*)' '([^']*)'", text, flags=re.M
    )
    return [(file, old, new) for file, old, new in found]


def build(tmp_path: Path, version: str, *, broken: bool) -> Path:
    """The wheel rollout-plugin.nix builds, with its own substitutions applied."""
    project = tmp_path / f"src-{version}"
    shutil.copytree(PROJECT, project)
    for file, old, new in _substitutions():
        if "BROKEN" in old and not broken:
            continue
        path = project / file
        text = path.read_text()
        assert old in text, f"{file} lacks {old!r}: rollout-plugin.nix would fail"
        path.write_text(text.replace(old, new.replace("${version}", version)))
    out = tmp_path / f"dist-{version}"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(project)],
        check=True,
        timeout=BUILD_TIMEOUT,
    )  # fmt: skip
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vmcheck")
    return {
        "good": build(root, "0.2.0", broken=False),
        "broken": build(root, "0.3.0", broken=True),
    }


def test_the_nix_build_sets_the_version_and_the_broken_flag() -> None:
    assert [(f, o) for f, o, _ in _substitutions()] == [
        ("pyproject.toml", 'version = "0.0.0"'),
        ("peek_plugin_vmcheck/_private/build.py", "BROKEN = False"),
    ]


@pytest.mark.parametrize(("which", "version"), [("good", "0.2.0"), ("broken", "0.3.0")])
def test_the_server_accepts_both_wheels_with_a_hook_on_server_client_and_agent(
    wheels: dict[str, Path], tmp_path: Path, which: str, version: str
) -> None:
    wheel = wheels[which]
    assert wheel.name == f"peek_plugin_vmcheck-{version}-py3-none-any.whl"
    data_dir = tmp_path / "data"
    ArtifactStore.in_data_dir(data_dir)
    staging = StagingArea.in_data_dir(data_dir)
    staging.root.mkdir(parents=True)
    with validate_upload(wheel, staging=staging) as upload:
        assert (upload.name, str(upload.version)) == ("peek_plugin_vmcheck", version)
        assert upload.plugin.hooks == {"server": HOOK, "client": HOOK, "agent": HOOK}


def _start(wheel: Path, target: Path) -> subprocess.CompletedProcess[str]:
    install_wheel(wheel, target)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from peek_plugin_vmcheck._private.hook import Hook\n"
        "hook = Hook(); hook.start(None); print(hook.started)\n"
    )
    return subprocess.run(
        [sys.executable, "-I", "-c", code, str(target)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )


def test_the_good_build_starts(wheels: dict[str, Path], tmp_path: Path) -> None:
    result = _start(wheels["good"], tmp_path / "good")
    assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr


def test_the_broken_build_refuses_to_start_naming_its_version(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    result = _start(wheels["broken"], tmp_path / "broken")
    assert result.returncode != 0
    assert "BrokenBuild: vmcheck 0.3.0 is the broken build and refuses to start" in result.stderr
