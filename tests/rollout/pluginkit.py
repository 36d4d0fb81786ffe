"""Plugin wheels written from source text, for the rollout tests (no build step).

:func:`plugin_wheel` makes a real wheel (METADATA, WHEEL, entry point,
RECORD) of a plugin whose hook modules are given as text, so that each test
says exactly what version 1 and version 2 of a plugin do.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from .wheelkit import WheelFiles

# A hook that counts in memory and answers on the admin (server) or user (client)
# site at /plugins/<short>/state: pid, version, how often it started, a tick count.
STATE_HOOK = """
import asyncio, os, uuid
from aiohttp import web
from peek.plugin import PluginContext, PluginHook, hookimpl

VERSION = "{version}"

class Hook(PluginHook):
    def __init__(self):
        self.boot = uuid.uuid4().hex
        self.ticks = 0
        self.starts = 0
        self._task = None

    async def start(self, ctx: PluginContext) -> None:
{start}
        self.starts += 1
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self):
        while True:
            self.ticks += 1
            await asyncio.sleep(0.05)

    async def stop(self, ctx: PluginContext) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def state(self, request):
        return web.json_response(
            {{"pid": os.getpid(), "version": VERSION, "boot": self.boot,
             "ticks": self.ticks, "starts": self.starts}}
        )

    @hookimpl
    def peek_site_routes(self, site):
        return [web.get("/state", self.state)] if site in ("admin", "user") else None
"""


def hook_module(version: str, start: str = "") -> str:
    """A state hook whose ``start`` first runs ``start`` (Python, may use ``ctx``)."""
    body = textwrap.indent(textwrap.dedent(start).strip() or "pass", " " * 8)
    return STATE_HOOK.format(version=version, start=body)


def plugin_wheel(
    directory: Path,
    short: str,
    version: str,
    *,
    services: tuple[str, ...] = ("server", "client", "agent"),
    modules: dict[str, str] | None = None,
    start: dict[str, str] | None = None,
    manifest_extra: str = "",
    requires: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write ``peek_plugin_<short>-<version>-py3-none-any.whl`` into ``directory``.

    Each service in ``services`` gets ``_private/<service>.py`` with the state
    hook (``start[service]`` runs first in its ``start``), unless ``modules``
    gives that module's text. ``files`` adds more files inside the package.
    """
    package = f"peek_plugin_{short}"
    dist_info = f"{package}-{version}.dist-info"
    lines = [f'title = "{short}"', 'peek = ">=0.1,<1"']
    if manifest_extra:
        lines.append(manifest_extra)
    lines.append("[hooks]")
    lines += [f'{kind} = "{package}._private.{kind}:Hook"' for kind in services]
    if requires:
        lines.append("[requires]")
        lines += [f'{k} = "{v}"' for k, v in requires.items()]
    content: dict[str, str] = {
        f"{package}/__init__.py": f'"""{short}, a rollout test plugin."""\n',
        f"{package}/plugin.toml": "\n".join(lines) + "\n",
        f"{package}/_private/__init__.py": "",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: peek-plugin-{short.replace('_', '-')}\n"
            f"Version: {version}\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: pluginkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[peek.plugins]\n{package} = {package}\n",
    }
    for kind in services:
        text = (modules or {}).get(kind)
        if text is None:
            text = hook_module(version, (start or {}).get(kind, ""))
        content[f"{package}/_private/{kind}.py"] = text
    for name, text in (files or {}).items():
        content[f"{package}/{name}"] = text
    wheel = WheelFiles(short, version, {k: v.encode() for k, v in content.items()})
    return wheel.write(directory)
