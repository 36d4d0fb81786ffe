"""A server's data directory for upload tests, and the check that an upload changed nothing."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from peek.plugin.discovery import PluginSpec
from peek.plugin.manifest import parse_manifest
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.validate import StagingArea

Snapshot = dict[str, tuple[int, int, str]]


@dataclass(frozen=True)
class Site:
    """A data directory with a staging area and an artifact store that already holds a wheel."""

    data_dir: Path
    staging: StagingArea
    store: ArtifactStore
    inputs: Path

    def snapshot(self) -> Snapshot:
        """Every path below the data directory with its mode, size and content hash."""
        found: Snapshot = {}
        for dirpath, dirnames, filenames in os.walk(self.data_dir):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                st = path.lstat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
                found[str(path.relative_to(self.data_dir))] = (st.st_mode, st.st_size, digest)
        return found

    def staged(self) -> list[Path]:
        return sorted(self.staging.root.iterdir())


def make_site(root: Path, wheel: Path) -> Site:
    data_dir = root / "data"
    store = ArtifactStore.in_data_dir(data_dir)
    store.add(wheel)
    staging = StagingArea.in_data_dir(data_dir)
    staging.root.mkdir(parents=True)
    inputs = root / "inputs"
    inputs.mkdir()
    return Site(data_dir, staging, store, inputs)


def plugin_spec(
    short: str,
    version: str = "0.1.0",
    *,
    requires: dict[str, str] | None = None,
    provides: dict[str, str] | None = None,
    peek: str = ">=0.1,<1",
) -> PluginSpec:
    """An installed plugin of the current set, as resolution sees it."""
    lines = [f'title = "{short}"', f'peek = "{peek}"', "[hooks]"]
    lines.append(f'server = "peek_plugin_{short}._private.server:ServerHook"')
    lines.append("[requires]")
    lines += [f'{k} = "{v}"' for k, v in (requires or {}).items()]
    lines.append("[provides]")
    lines += [f'{k} = "{v}"' for k, v in (provides or {}).items()]
    name = f"peek_plugin_{short}"
    return PluginSpec(manifest=parse_manifest(name, str(Version(version)), "\n".join(lines)))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
