"""The conformance check every plugin passes: the platform's contract, tested once.

- its metadata is valid and discoverable from the installed distribution;
- each service it declares has an importable hook that the platform can run
  through load, start, stop and unload;
- a second ``stop`` is harmless;
- its migrations have one head and go up, down and up again, and its models
  stay in its own namespace (on the server and worker it runs on a migrated
  scratch SQLite database);
- it imports no other plugin's ``_private`` package, nor Peek's own
  ``peek.services`` / ``peek.rollout`` layers.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import tempfile
from collections.abc import Iterable
from pathlib import Path

import peek
from peek.config import ServiceKind
from peek.errors import PeekError
from peek.plugin import hookspecs
from peek.plugin.context import ServiceResources
from peek.plugin.discovery import PluginSpec
from peek.plugin.lifecycle import PluginLifecycle
from peek.services.common import install_twisted_reactor
from peek.testing.services import installed_specs
from peek.testing.storage import migrated_storage, storage_problems

__all__ = ["ConformanceError", "assert_plugin_conforms", "forbidden_imports"]

FORBIDDEN_PEEK_LAYERS = ("peek.services", "peek.rollout", "peek.cli")


class ConformanceError(PeekError, AssertionError):
    """A plugin breaks the platform's contract; the message lists every problem."""


def assert_plugin_conforms(name: str, *, with_plugins: Iterable[str] = ()) -> None:
    """Check installed plugin ``name``; ``with_plugins`` are the plugins it requires.

    Raises :class:`ConformanceError` listing every problem found.
    """
    problems: list[str] = []
    try:
        specs = installed_specs([name, *with_plugins])
    except PeekError as exc:
        raise ConformanceError(f"{name}: {exc}") from exc
    spec = next(s for s in specs if s.name == name)
    if spec.package_dir is not None:
        problems += forbidden_imports(name, spec.package_dir)
    problems += storage_problems(spec)
    for kind in spec.manifest.services:
        try:
            hook = spec.hook_factory(kind)()
        except Exception as exc:  # reported, not raised: list every problem
            problems.append(f"{kind}: hook {spec.manifest.hooks[kind]} cannot be created: {exc!r}")
            continue
        unknown = [
            attr
            for attr in dir(type(hook))
            if attr.startswith("peek_") and attr not in hookspecs.HOOK_NAMES
        ]
        if unknown:
            problems.append(
                f"{kind}: {', '.join(unknown)} match no Peek hookspec "
                f"(known: {', '.join(hookspecs.HOOK_NAMES)}); a typo is silently ignored"
            )
        if not any(
            callable(getattr(hook, phase, None)) for phase in ("load", "start", "stop", "unload")
        ):
            problems.append(f"{kind}: hook has none of load/start/stop/unload")
        problems += asyncio.run(_run_twice_stopped(kind, specs, name))
    if problems:
        raise ConformanceError(f"{name} does not conform:\n  " + "\n  ".join(problems))


async def _run_twice_stopped(kind: ServiceKind, specs: list[PluginSpec], name: str) -> list[str]:
    """Run the plugin set through its whole lifecycle on ``kind``, stopping ``name`` twice."""
    install_twisted_reactor()
    with tempfile.TemporaryDirectory() as tmp:
        # The services with a database hand plugins a migrated one, as the server does.
        storage, failed = (
            await migrated_storage(Path(tmp), specs) if kind in ("server", "worker") else (None, {})
        )
        if failed:
            return [f"{kind}: {error}" for error in failed.values()]
        lifecycle = PluginLifecycle(
            kind,
            specs,
            peek_version=peek.__version__,
            data_root=Path(tmp) / "plugins",
            hook_timeout=10,
            resources=ServiceResources(service_name=f"conformance-{kind}", storage=storage),
        )
        await lifecycle.load_all()
        await lifecycle.start_all()
        problems = [f"{kind}: {s.error}" for s in lifecycle.status() if s.error]
        if not problems:
            await lifecycle.stop_all()
            try:
                result = lifecycle.hook(name).stop(lifecycle.context(name))
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # reported as a finding, not raised
                problems.append(f"{kind}: a second stop raised {exc!r}")
        await lifecycle.unload_all()
        if storage is not None:
            await storage.close()
        problems += [
            f"{kind}: {s.error}"
            for s in lifecycle.status()
            if s.error and f"{kind}: {s.error}" not in problems
        ]
    return problems


def forbidden_imports(name: str, package_dir: Path) -> list[str]:
    """Imports in the plugin's source that reach into other plugins' privates or Peek's
    upper layers."""
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except SyntaxError as exc:
            problems.append(f"{path}: does not parse: {exc}")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                rel = path.relative_to(package_dir.parent)
                if parts[0].startswith("peek_plugin_") and parts[0] != name and "_private" in parts:
                    problems.append(
                        f"{rel}:{node.lineno}: imports {module}, another plugin's private code"
                    )
                if module.startswith(FORBIDDEN_PEEK_LAYERS):
                    problems.append(
                        f"{rel}:{node.lineno}: imports {module}; plugins use "
                        f"peek.plugin, not the platform's internals"
                    )
    return problems
