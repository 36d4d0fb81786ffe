"""``peek plugin new``: a new plugin project in the house layout, ready to install and test.

``scaffold_plugin("weather", ["server", "client"], Path("."))`` writes::

    peek-plugin-weather/
        pyproject.toml                  distribution peek-plugin-weather, entry point
        README.md                       install, test, what each file is for
        peek_plugin_weather/
            __init__.py
            plugin.toml                 title, supported Peek versions, [hooks]
            server/__init__.py          public API on the server (one per chosen
            client/__init__.py            service among server, client, agent)
            tuples/__init__.py          data shapes shared with other plugins
            _private/__init__.py        code only this plugin imports
            _private/server.py          entry hook on the server (one per chosen service)
            _private/client.py
        tests/test_weather.py           conformance check and a boot on a server

The files come from the ``string.Template`` texts below; the result passes
the platform's conformance check, ruff and mypy as generated.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from string import Template

from packaging.version import InvalidVersion, Version

import peek
from peek.config import SERVICE_KINDS, ServiceKind
from peek.errors import PeekError
from peek.plugin.manifest import MANIFEST_FILE, PLUGIN_PREFIX

__all__ = ["MAX_NAME_LENGTH", "ScaffoldError", "scaffold_plugin"]

# Lowercase words joined by single underscores, so that the distribution name
# (underscores become dashes) is a valid PEP 508 name too.
_SHORT_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# Longer names would push generated lines past the line length ruff allows.
MAX_NAME_LENGTH = 32
LINE_LENGTH = 100
# Services whose plugins publish an API other plugins there can use; the
# worker runs tasks and has none yet.
API_SERVICES: tuple[ServiceKind, ...] = ("server", "client", "agent")


class ScaffoldError(PeekError):
    """A plugin project cannot be created; ``name`` is as given, ``problem`` says why."""

    def __init__(self, name: str, problem: str, path: Path | None = None) -> None:
        self.name = name
        self.problem = problem
        self.path = path
        super().__init__(f"cannot create plugin {name!r}: {problem}")


def scaffold_plugin(name: str, services: Sequence[str], directory: Path) -> Path:
    """Create the project of plugin ``name`` running on ``services`` below ``directory``.

    ``name`` is ``weather`` or ``peek_plugin_weather``. Returns the project
    directory ``<directory>/peek-plugin-weather``, which may exist if it is
    empty. Raises :class:`ScaffoldError` for a bad name, an unknown service or
    a non-empty target, before writing anything. Blocking.
    """
    short = _short_name(name)
    kinds = _services(name, services)
    project = directory / f"peek-plugin-{short.replace('_', '-')}"
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ScaffoldError(
            name, f"{project} already exists and is not an empty directory", project
        )
    files = _render(short, kinds, _peek_version())
    created = not project.exists()
    try:
        for relative, text in files.items():
            path = project / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        if created:
            # Leave nothing half-made behind: a second attempt would refuse it.
            shutil.rmtree(project, ignore_errors=True)
        raise ScaffoldError(name, f"cannot write {exc.filename}: {exc.strerror}", project) from exc
    return project


def _short_name(name: str) -> str:
    short = name.removeprefix(PLUGIN_PREFIX)
    if not _SHORT_NAME_RE.match(short):
        raise ScaffoldError(
            name,
            "a plugin name is lowercase letters, digits and single underscores, "
            "starting with a letter, e.g. 'weather', 'weather_station' or "
            "'peek_plugin_weather'",
        )
    if len(short) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            name, f"the name after {PLUGIN_PREFIX} is longer than {MAX_NAME_LENGTH} characters"
        )
    return short


def _services(name: str, services: Sequence[str]) -> tuple[ServiceKind, ...]:
    known = ", ".join(SERVICE_KINDS)
    unknown = [s for s in services if s not in SERVICE_KINDS]
    if unknown:
        raise ScaffoldError(
            name, f"unknown service {', '.join(map(repr, unknown))} (known: {known})"
        )
    if not services:
        raise ScaffoldError(name, f"name at least one service to run on (known: {known})")
    return tuple(kind for kind in SERVICE_KINDS if kind in services)


def _peek_version() -> Version:
    try:
        return Version(peek.__version__)
    except InvalidVersion:  # a source tree with odd metadata; any 0.x will do
        return Version("0.0.0")


def _version_range(running: Version) -> tuple[str, str]:
    """(lower bound, ``plugin.toml`` range): from this Peek's major.minor up to the next major."""
    major, minor = (*running.release, 0)[:2]
    # A pre-release sorts before its release: 0.2.0.dev1 < 0.2.
    lower = f"{major}.{minor}" + (".dev0" if running.is_prerelease else "")
    return lower, f">={lower},<{major + 1}"


def _render(short: str, kinds: tuple[ServiceKind, ...], running: Version) -> dict[str, str]:
    lower, peek_range = _version_range(running)
    package = PLUGIN_PREFIX + short
    camel = "".join(word.capitalize() for word in short.split("_"))
    title = short.replace("_", " ").capitalize()
    values = {
        "short": short,
        "package": package,
        "dist": f"peek-plugin-{short.replace('_', '-')}",
        "camel": camel,
        "title": title,
        "lower": lower,
        "peek_range": peek_range,
        "services": _spoken_list(kinds),
    }
    hooks = "\n".join(
        f'{kind} = "{package}._private.{kind}:{kind.capitalize()}Hook"' for kind in kinds
    )
    files = {
        "pyproject.toml": PYPROJECT.substitute(values),
        "README.md": README.substitute(values, tree=_readme_tree(package, short, kinds)),
        f"{package}/__init__.py": PACKAGE_INIT.substitute(values),
        f"{package}/{MANIFEST_FILE}": MANIFEST.substitute(values, hooks=hooks),
        f"{package}/tuples/__init__.py": TUPLES_INIT.substitute(values),
        f"{package}/_private/__init__.py": PRIVATE_INIT.substitute(values),
        f"tests/test_{short}.py": _render_tests(values, kinds),
    }
    for kind in kinds:
        service = {"service": kind, "Service": kind.capitalize()}
        if kind in API_SERVICES:
            files[f"{package}/{kind}/__init__.py"] = API_INIT.substitute(values, **service)
            api_import = _import_line(f"{package}.{kind}", f"{camel}{kind.capitalize()}Api")
            files[f"{package}/_private/{kind}.py"] = API_HOOK.substitute(
                values, api_import=api_import, **service
            )
        else:
            files[f"{package}/_private/{kind}.py"] = PLAIN_HOOK.substitute(values, **service)
    return dict(sorted(files.items()))


def _import_line(module: str, name: str) -> str:
    line = f"from {module} import {name}"
    # A long name's import does not fit one line; write it the way ruff would.
    return line if len(line) <= LINE_LENGTH else f"from {module} import (\n    {name},\n)"


def _spoken_list(words: Sequence[str]) -> str:
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _render_tests(values: dict[str, str], kinds: tuple[ServiceKind, ...]) -> str:
    if "server" in kinds:
        return TESTS_SERVER.substitute(values)
    # Not on the server itself: boot the plugin on its first service, linked to a server.
    kind = kinds[0]
    return TESTS_UPSTREAM.substitute(values, service=kind)


def _readme_tree(package: str, short: str, kinds: tuple[ServiceKind, ...]) -> str:
    rows = [
        ("pyproject.toml", "the distribution: name, version, dependencies, entry point"),
        (f"{package}/__init__.py", "the import package"),
        (
            f"{package}/{MANIFEST_FILE}",
            "what Peek reads before importing anything: title, Peek versions, hooks",
        ),
    ]
    rows += [
        (
            f"{package}/{kind}/__init__.py",
            f"the public API on the {kind}, for plugins that require `{short}`",
        )
        for kind in kinds
        if kind in API_SERVICES
    ]
    rows += [
        (f"{package}/tuples/__init__.py", "data shapes shared with other plugins"),
        (f"{package}/_private/__init__.py", "code only this plugin may import"),
    ]
    rows += [(f"{package}/_private/{kind}.py", f"the entry hook on the {kind}") for kind in kinds]
    rows.append((f"tests/test_{short}.py", "the conformance check and a boot on a server"))
    return "\n".join(f"| `{path}` | {what} |" for path, what in rows)


PYPROJECT = Template("""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = "${title}: a Peek plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["peek-platform>=${lower}"]

[project.optional-dependencies]
# What `pytest` needs: Peek's fixtures and conformance check.
test = ["peek-platform[testing]>=${lower}"]

[project.entry-points."peek.plugins"]
${package} = "${package}"

[tool.setuptools.packages.find]
include = ["${package}*"]

[tool.setuptools.package-data]
${package} = ["plugin.toml"]

[tool.pytest.ini_options]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
""")

README = Template("""\
# ${dist}

${title}: a Peek plugin running on the ${services}.

## Install

Into the Python environment Peek runs from:

    pip install -e '.[test]'

Peek finds it through its `peek.plugins` entry point:

    peek plugin list

Every installed plugin is enabled unless the configuration names the enabled
ones; then add it there (`[plugins] enabled = [..., "${package}"]`, or
`PEEK__PLUGINS__ENABLED='["${package}"]'`).

## Test

    pytest

`tests/test_${short}.py` runs Peek's conformance check (valid `plugin.toml`,
hooks that load, start and stop twice, no imports of other plugins' private
code) and boots the plugin on an in-process server.

## Files

| File | What it is for |
| --- | --- |
${tree}

Other plugins use this one only through its public API packages and
`tuples`; they list `${short}` under `[requires]` in their `plugin.toml` and
call `ctx.api("${short}")`.
""")

MANIFEST = Template("""\
title = "${title}"
# The Peek versions this plugin supports.
peek = "${peek_range}"

# One entry hook per service the plugin runs on.
[hooks]
${hooks}

# APIs of other plugins this one uses, with PEP 440 ranges, e.g. user = ">=0.1".
[requires]
""")

PACKAGE_INIT = Template('''\
"""${title}, a Peek plugin.

It runs on the ${services}.
"""
''')

TUPLES_INIT = Template('''\
"""Data shapes other plugins may share with ${short} (none yet)."""
''')

PRIVATE_INIT = Template('''\
"""Private to ${short}: other plugins must not import this package."""
''')

API_INIT = Template('''\
"""The public API ${short} offers other plugins on the ${service}."""

from __future__ import annotations

__all__ = ["${camel}${Service}Api"]


class ${camel}${Service}Api:
    """What ${short} offers other plugins on the ${service}.

    Plugins that list ``${short}`` under ``[requires]`` get it with
    ``ctx.api("${short}", ${camel}${Service}Api)``.
    """

    def __init__(self, version: str) -> None:
        self.version = version

    def describe(self) -> str:
        """Say which plugin answers; replace it with what the plugin offers."""
        return f"${package} {self.version} on the ${service}"
''')

API_HOOK = Template('''\
"""${short} on the ${service}: publish the API, then start and stop the work."""

from __future__ import annotations

from peek.plugin import PluginContext, PluginHook
${api_import}


class ${Service}Hook(PluginHook):
    def __init__(self) -> None:
        self.api: ${camel}${Service}Api | None = None
        self.running = False

    def load(self, ctx: PluginContext) -> None:
        self.api = ${camel}${Service}Api(ctx.version)
        ctx.publish(self.api)

    async def start(self, ctx: PluginContext) -> None:
        self.running = True
        ctx.logger.info("%s started on the %s", ctx.name, ctx.service)

    async def stop(self, ctx: PluginContext) -> None:
        # The platform may stop a plugin twice; only the first stop has work to do.
        if not self.running:
            return
        self.running = False
        ctx.logger.info("%s stopped on the %s", ctx.name, ctx.service)

    def unload(self, ctx: PluginContext) -> None:
        self.api = None
''')

PLAIN_HOOK = Template('''\
"""${short} on the ${service}: start and stop the work."""

from __future__ import annotations

from peek.plugin import PluginContext, PluginHook


class ${Service}Hook(PluginHook):
    def __init__(self) -> None:
        self.running = False

    async def start(self, ctx: PluginContext) -> None:
        self.running = True
        ctx.logger.info("%s started on the %s", ctx.name, ctx.service)

    async def stop(self, ctx: PluginContext) -> None:
        # The platform may stop a plugin twice; only the first stop has work to do.
        if not self.running:
            return
        self.running = False
        ctx.logger.info("%s stopped on the %s", ctx.name, ctx.service)
''')

TESTS_SERVER = Template('''\
"""Tests of ${package}.

Run ``pytest`` once the plugin is installed (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import pytest

from peek.testing import ServerFactory, assert_plugin_conforms

PLUGIN = "${package}"


def test_plugin_conforms_to_the_platform_contract() -> None:
    assert_plugin_conforms(PLUGIN)


@pytest.mark.asyncio
async def test_plugin_starts_on_a_server(peek_server: ServerFactory) -> None:
    server = await peek_server([PLUGIN])

    [own] = [s for s in server.status()["services"] if s["kind"] == "server"]
    assert {p["name"]: p["state"] for p in own["plugins"]} == {PLUGIN: "started"}
''')

TESTS_UPSTREAM = Template('''\
"""Tests of ${package}.

Run ``pytest`` once the plugin is installed (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import pytest

from peek.testing import ServerFactory, UpstreamFactory, assert_plugin_conforms

PLUGIN = "${package}"


def test_plugin_conforms_to_the_platform_contract() -> None:
    assert_plugin_conforms(PLUGIN)


@pytest.mark.asyncio
async def test_plugin_starts_on_the_${service}_linked_to_a_server(
    peek_server: ServerFactory, peek_upstream: UpstreamFactory
) -> None:
    server = await peek_server([])
    service = await peek_upstream("${service}", server, [PLUGIN])

    assert {p["name"]: p["state"] for p in service.plugins.plugins_json()} == {PLUGIN: "started"}
''')
