"""Evaluating Peek's Nix files from tests with ``nix-instantiate``.

nixpkgs' ``lib`` comes from ``$NIXPKGS/lib`` when set, else from
``../shared/nixpkgs-lib/lib`` beside the repository (see its README).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from peek.testing.requirements import require_commands, unavailable

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO / "tests" / "appliance" / "nix" / "eval.nix"
PKGS = REPO / "tests" / "appliance" / "nix" / "pkgs.nix"
EVAL_TIMEOUT = 60


class NixError(Exception):
    """nix-instantiate refused the expression; ``stderr`` says why."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def lib_path() -> Path:
    require_commands("nix-instantiate")
    nixpkgs = os.environ.get("NIXPKGS")
    candidates = [Path(nixpkgs) / "lib"] if nixpkgs else []
    candidates.append(REPO.parent / "shared" / "nixpkgs-lib" / "lib")
    for candidate in candidates:
        if (candidate / "default.nix").exists():
            return candidate
    unavailable(f"nixpkgs lib not found (looked in {', '.join(map(str, candidates))})")


def nix_eval(expression: str) -> Any:
    """Evaluate ``expression`` (``lib`` and ``pkgs`` are in scope) strictly to JSON."""
    wrapped = (
        f"let lib = import {lib_path()}; pkgs = import {PKGS} {{ inherit lib; }}; in {expression}"
    )
    result = subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "-E", wrapped],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=EVAL_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise NixError(result.stderr)
    return json.loads(result.stdout)


def evaluate_modules(*modules: str) -> dict[str, Any]:
    """Peek's NixOS modules plus ``modules`` (Nix module expressions), as eval.nix reports them."""
    listed = " ".join(f"({m})" for m in modules)
    result: dict[str, Any] = nix_eval(f"import {EVAL} {{ inherit lib; modules = [ {listed} ]; }}")
    return result
