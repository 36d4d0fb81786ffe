"""Skip a test whose environment is missing something, except in CI where that is a failure.

A test that needs a real PostgreSQL, a tool such as ``systemd-analyze`` or
``nix-instantiate``, or root, calls :func:`unavailable` with the reason when
the need is not met. On a developer machine the test is skipped with that
reason; with ``CI=true`` in the environment it fails, so CI cannot go green
by skipping what it was set up to run.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["in_ci", "require_commands", "require_root", "unavailable"]


def in_ci() -> bool:
    """True when ``CI`` is set to ``true`` or ``1`` (as GitHub, GitLab and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the running test with ``reason``; fail it instead under CI."""
    if in_ci():
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


def require_commands(*names: str) -> None:
    """Skip (fail under CI) unless every command is on ``PATH``."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        unavailable(
            f"needs {', '.join(missing)} on PATH (scripts/bootstrap dev installs it as root)"
        )


def require_root() -> None:
    """Skip (fail under CI) unless the test runs as root."""
    if os.geteuid() != 0:
        unavailable("needs root")
