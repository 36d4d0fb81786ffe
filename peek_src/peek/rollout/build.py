"""Building an uploaded plugin project into a wheel, offline, with the platform's own tools.

The project (already extracted into a staging directory by
:mod:`peek.rollout.archives`) is built with PyPA ``build`` without isolation
(``python -m build --wheel --no-isolation``), so the build backend must be
installed beside Peek: nothing is downloaded. Before building,
:func:`find_project` locates ``pyproject.toml``/``setup.py`` and
:func:`check_build_backend` checks that every package in
``[build-system] requires`` is installed; a project whose backend is missing
(``hatchling``, ``poetry-core``, ``flit_core`` unless installed) is refused
with :class:`~peek.rollout.errors.BuildBackendUnavailable` telling the
uploader to send a wheel instead. setuptools is always available (a Peek
dependency).

The build runs in a child process (:mod:`peek.rollout.sandbox`) with a
deadline; it executes the project's build code (``setup.py``, the backend)
with the service user's rights, so uploads should come from administrators
only, as the admin site ensures. Blocking.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from peek.rollout.errors import BadProject, BuildBackendUnavailable, BuildFailed
from peek.rollout.sandbox import run_bounded, scrubbed_env

__all__ = [
    "DEFAULT_BUILD_TIMEOUT",
    "LEGACY_BUILD_REQUIRES",
    "build_wheel",
    "check_build_backend",
    "find_project",
]

DEFAULT_BUILD_TIMEOUT = 180.0
# What PEP 517 front ends assume for a project without [build-system].
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0",)
_OUTPUT_LINES = 15


def find_project(root: Path) -> Path:
    """The project directory in an extracted upload: ``root`` or its single top-level folder.

    Raises :class:`BadProject` when neither holds a ``pyproject.toml`` or ``setup.py``.
    """
    if _is_project(root):
        return root
    children = list(root.iterdir())
    if len(children) == 1 and children[0].is_dir() and _is_project(children[0]):
        return children[0]
    raise BadProject(
        "the archive holds no Python project: no pyproject.toml or setup.py at its top "
        "or in its single top-level folder"
    )


def _is_project(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() or (path / "setup.py").is_file()


def check_build_backend(project: Path) -> None:
    """Refuse a project whose ``[build-system] requires`` are not all installed here."""
    requires: Iterable[str] = LEGACY_BUILD_REQUIRES
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadProject(f"pyproject.toml is not valid TOML: {exc}") from None
        build_system = data.get("build-system", {})
        if not isinstance(build_system, dict):
            raise BadProject("[build-system] in pyproject.toml must be a table")
        requires = build_system.get("requires", LEGACY_BUILD_REQUIRES)
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            raise BadProject("[build-system] requires must be a list of strings")
    missing = [text for text in requires if not _installed(text)]
    if missing:
        raise BuildBackendUnavailable(missing)


def _installed(text: str) -> bool:
    try:
        req = Requirement(text)
    except InvalidRequirement:
        raise BadProject(f"[build-system] requires has an invalid requirement {text!r}") from None
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        return True
    try:
        found = version(req.name)
    except PackageNotFoundError:
        return False
    return req.specifier.contains(found, prereleases=True)


def build_wheel(project: Path, outdir: Path, workdir: Path, timeout: float) -> Path:
    """Build ``project`` into one wheel in ``outdir``; ``workdir`` holds the build's home.

    Raises :class:`BuildBackendUnavailable` before building when the backend
    is missing, :class:`BuildFailed` when the build fails, times out or does
    not produce exactly one wheel. Blocking.
    """
    check_build_backend(project)
    # The build runs in workdir: every path it is given must not depend on our cwd.
    project, outdir, workdir = project.absolute(), outdir.absolute(), workdir.absolute()
    outdir.mkdir(parents=True, exist_ok=True)
    env = scrubbed_env(workdir)
    result = run_bounded(
        [
            sys.executable,
            "-I",
            "-B",
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(outdir),
            str(project),
        ],
        cwd=workdir,
        env=env,
        timeout=timeout,
    )
    if result.timed_out:
        raise BuildFailed(f"the build did not finish within {timeout:g} s", result.tail(5))
    if result.returncode != 0:
        raise BuildFailed(f"the build exited {result.returncode}", result.tail(_OUTPUT_LINES))
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildFailed(f"the build made {len(wheels)} wheels, not one")
    return wheels[0]
