"""Fake plugins with schema histories, written into a temporary directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

from peek.config import ServiceKind
from peek.plugin.discovery import PluginSpec
from peek.plugin.manifest import parse_manifest

PEEK_VERSION = "0.1.0"


class NoHook:
    """A server hook that does nothing."""


def revision(rev: str, down: str | None, upgrade: str, downgrade: str = "pass") -> str:
    """The text of a revision script with ``upgrade``/``downgrade`` bodies (indented here)."""
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    back = textwrap.indent(textwrap.dedent(downgrade).strip(), "    ")
    return (
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{body}\n\n\n"
        f"def downgrade():\n{back}\n"
    )


def table_revision(name: str, rev: str, down: str | None, table: str) -> str:
    """A revision creating (and on downgrade dropping) ``table`` in ``name``'s namespace."""
    return revision(
        rev,
        down,
        f"op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True), "
        f"schema={name!r})",
        f"op.drop_table({table!r}, schema={name!r})",
    )


def make_plugin(
    root: Path,
    name: str,
    revisions: Mapping[str, str] = {},
    *,
    requires: Mapping[str, str] = {},
    hooks: Mapping[ServiceKind, Callable[[], object]] | None = None,
) -> PluginSpec:
    """A plugin package ``root/name`` with ``revisions`` (file name -> text), as a spec."""
    package = root / name
    versions = package / "_private" / "alembic" / "versions"
    versions.mkdir(parents=True)
    for file_name, text in revisions.items():
        (versions / file_name).write_text(text, encoding="utf-8")
    hooks = hooks or {"server": NoHook}
    lines = [f'title = "{name}"', 'peek = ">=0.1,<1"', "[hooks]"]
    lines += [f'{kind} = "{name}._private:Hook"' for kind in hooks]
    if requires:
        lines.append("[requires]")
        lines += [f'{api} = "{spec}"' for api, spec in requires.items()]
    manifest = parse_manifest(name, "0.1.0", "\n".join(lines) + "\n")
    return PluginSpec(manifest=manifest, hook_classes=dict(hooks), package_dir=package)
