"""The registry packages of an npm lock (lockfileVersion 3) and their tarball URLs.

nix/webapps.nix fetches every package by its lock's ``resolved`` URL (importNpmLock).
npm leaves those URLs out when ``omit-lockfile-registry-resolved`` is set, and does
not put them back into an existing lock afterwards, so this fills them in::

    .venv/bin/python tests/appliance/npmlock.py ui/package-lock.json ui/vortex/package-lock.json

It only adds ``resolved`` (the registry's tarball URL of the locked version, as npm
writes it) to the packages that lack one; versions and integrity hashes stay as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REGISTRY = "https://registry.npmjs.org/"


def registry_packages(lock: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Installed packages of ``lock`` by their path, without workspace links."""
    packages: dict[str, dict[str, Any]] = lock["packages"]
    return {
        path: entry
        for path, entry in packages.items()
        if "node_modules/" in path and not entry.get("link")
    }


def tarball_url(path: str, entry: dict[str, Any]) -> str:
    """Where the registry serves the locked version of the package installed at ``path``."""
    name = entry.get("name", path.rsplit("node_modules/", 1)[1])
    return f"{REGISTRY}{name}/-/{name.split('/')[-1]}-{entry['version']}.tgz"


def add_resolved(lock: dict[str, Any]) -> int:
    """Give each registry package without ``resolved`` its tarball URL; return how many."""
    added = 0
    for path, entry in registry_packages(lock).items():
        if "resolved" in entry:
            continue
        # npm writes "resolved" just before "integrity"; keep its order.
        fields = list(entry.items())
        entry.clear()
        for key, value in fields:
            if key == "integrity":
                entry["resolved"] = tarball_url(path, dict(fields))
            entry[key] = value
        entry.setdefault("resolved", tarball_url(path, entry))
        added += 1
    return added


def main(paths: list[str]) -> None:
    for name in paths:
        path = Path(name)
        lock = json.loads(path.read_text())
        added = add_resolved(lock)
        path.write_text(json.dumps(lock, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.write(f"{name}: added {added} resolved URLs\n")


if __name__ == "__main__":
    main(sys.argv[1:])
