"""Fixtures for the rollout tests.

``built`` is made once per test session: ``peek plugin new weather`` scaffolded,
built into a wheel by pip (offline, no isolation: not by the code under
test), and packed as a project ``.zip`` and ``.tar.gz``. Tests derive other
plugins and broken variants from it with :class:`~.wheelkit.WheelFiles`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from peek.plugin.scaffold import scaffold_plugin

from .wheelkit import PACKAGE, SHORT, WheelFiles, project_files, write_project_tar, write_zip

BUILD_TIMEOUT = 120.0


@dataclass(frozen=True)
class Built:
    """The scaffolded plugin as a wheel, as project archives, and as its source tree."""

    wheel: Path
    project: Path
    project_zip: Path
    project_tar: Path

    def files(self) -> WheelFiles:
        return WheelFiles.read(self.wheel)

    def project_tree(self, prefix: str = "peek-plugin-weather") -> dict[str, bytes]:
        """The project's files (no build output), as archive entries below ``prefix``."""
        return {
            name: data
            for name, data in project_files(self.project, prefix).items()
            if "/build/" not in name and ".egg-info/" not in name
        }


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("rollout-build")
    project = scaffold_plugin(SHORT, ["server", "client"], base / "src")
    dist = base / "dist"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(project),
        ],
        cwd=base,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = dist.glob(f"{PACKAGE}-0.1.0-*.whl")
    archives = base / "archives"
    archives.mkdir()
    tree = {
        name: data
        for name, data in project_files(project, project.name).items()
        if "/build/" not in name and ".egg-info/" not in name
    }
    return Built(
        wheel=wheel,
        project=project,
        project_zip=write_zip(archives / "peek-plugin-weather.zip", tree.items()),
        project_tar=write_project_tar(archives / "peek-plugin-weather.tar.gz", tree),
    )
