"""Finding installed plugins through the ``peek.plugins`` entry points, without importing them.

Each test installs tiny distributions into ``tmp_path`` (a package holding
``plugin.toml`` beside a ``.dist-info`` directory) and puts it on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from peek.plugin import ManifestError, PluginNotInstalled, discovery
from peek.plugin.discovery import PluginSpec, discover, read_manifest_file
from peek.plugin.manifest import MANIFEST_FILE

from .fakes import manifest_text

Install = Callable[..., Path]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install a plugin distribution ``peek-plugin-<short>`` into a directory on ``sys.path``.

    Its package raises on import unless ``importable``; modules imported from
    it are forgotten at teardown.
    """
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install_plugin(
        short: str,
        *,
        version: str = "1.0",
        toml: str | None = None,
        entry_point: str | None = None,
        importable: bool = False,
    ) -> Path:
        name = f"peek_plugin_{short}"
        package = site / name
        package.mkdir()
        init = "" if importable else "raise ImportError('discovery imported me')\n"
        (package / "__init__.py").write_text(init)
        (package / "server.py").write_text("class Hook:\n    pass\n")
        if toml is None:
            toml = manifest_text(title=short.title(), hooks={"server": f"{name}.server:Hook"})
        (package / MANIFEST_FILE).write_text(toml)
        dist_info = site / f"{name}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: peek-plugin-{short}\nVersion: {version}\n"
        )
        (dist_info / "entry_points.txt").write_text(
            f"[peek.plugins]\n{name} = {entry_point or name}\n"
        )
        return package

    yield install_plugin
    for module in [m for m in sys.modules if m.startswith("peek_plugin_")]:
        if str(site) in str(getattr(sys.modules[module], "__file__", "")):
            del sys.modules[module]


def names(specs: list[PluginSpec]) -> list[str]:
    return [spec.name for spec in specs]


def test_discover_finds_an_installed_plugin_with_its_distribution_version(
    install: Install,
) -> None:
    package = install("fake", version="2.4.1")

    specs, errors = discover(only=["peek_plugin_fake"])

    assert errors == []
    assert names(specs) == ["peek_plugin_fake"]
    spec = specs[0]
    assert str(spec.manifest.version) == "2.4.1"
    assert spec.manifest.title == "Fake"
    assert spec.manifest.hooks == {"server": "peek_plugin_fake.server:Hook"}
    assert spec.package_dir == package
    # Metadata only: the package (which raises on import) was not imported.
    assert "peek_plugin_fake" not in sys.modules


def test_discover_returns_plugins_sorted_by_name(install: Install) -> None:
    install("zulu")
    install("alpha")

    specs, errors = discover(only=["peek_plugin_zulu", "peek_plugin_alpha"])

    assert errors == []
    assert names(specs) == ["peek_plugin_alpha", "peek_plugin_zulu"]


def test_discover_without_only_finds_every_installed_plugin(install: Install) -> None:
    install("fake")

    specs, _errors = discover()

    assert "peek_plugin_fake" in names(specs)


def test_broken_manifest_is_an_error_and_does_not_stop_the_others(install: Install) -> None:
    install("good")
    install("broken", toml='title = "Broken"\n[hooks]\ndesktop = "a.b:C"\n')

    specs, errors = discover(only=["peek_plugin_good", "peek_plugin_broken"])

    assert names(specs) == ["peek_plugin_good"]
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, ManifestError)
    assert error.plugin == "peek_plugin_broken"
    assert "unknown service 'desktop'" in str(error)


def test_missing_manifest_file_is_an_error(install: Install) -> None:
    package = install("bare")
    (package / MANIFEST_FILE).unlink()

    specs, errors = discover(only=["peek_plugin_bare"])

    assert specs == []
    assert [type(e) for e in errors] == [ManifestError]
    assert errors[0].plugin == "peek_plugin_bare"


def test_enabled_plugin_that_is_not_installed_is_an_error(install: Install) -> None:
    install("fake")

    specs, errors = discover(only=["peek_plugin_fake", "peek_plugin_absent"])

    assert names(specs) == ["peek_plugin_fake"]
    assert len(errors) == 1
    assert isinstance(errors[0], PluginNotInstalled)
    assert errors[0].plugin == "peek_plugin_absent"
    assert "enabled in the configuration but not installed" in str(errors[0])


def test_entry_point_that_is_not_the_package_name_is_an_error(install: Install) -> None:
    install("odd", entry_point="peek_plugin_odd.server:Hook")

    specs, errors = discover(only=["peek_plugin_odd"])

    assert specs == []
    assert len(errors) == 1
    assert isinstance(errors[0], ManifestError)
    assert errors[0].plugin == "peek_plugin_odd"
    assert "entry point must be 'peek_plugin_odd = \"peek_plugin_odd\"'" in str(errors[0])


def test_read_manifest_file_reports_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / MANIFEST_FILE

    with pytest.raises(ManifestError, match=r"cannot read .*plugin\.toml"):
        read_manifest_file("peek_plugin_fake", "1.0", missing)


def test_hook_factory_imports_the_hook_class_named_in_the_manifest(install: Install) -> None:
    install("real", importable=True)
    specs, _ = discover(only=["peek_plugin_real"])

    hook_class = specs[0].hook_factory("server")

    assert hook_class is sys.modules["peek_plugin_real.server"].Hook  # type: ignore[attr-defined]


def test_hook_factory_reports_a_missing_hook_class(install: Install) -> None:
    toml = manifest_text(hooks={"server": "peek_plugin_real.server:Missing"})
    install("real", importable=True, toml=toml)
    specs, _ = discover(only=["peek_plugin_real"])

    with pytest.raises(ManifestError, match=r"module peek_plugin_real\.server has no attribute"):
        specs[0].hook_factory("server")


# -- the discovery cache ----------------------------------------------------


def forbid_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def scan() -> None:
        raise AssertionError("scanned entry points although the cache was valid")

    monkeypatch.setattr(discovery, "_scan", scan)


def test_a_valid_cache_answers_without_scanning_entry_points(
    install: Install, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install("fake", version="2.5")
    cache = tmp_path / "cache" / "discovery.json"
    first, _ = discover(only=["peek_plugin_fake"], cache_file=cache)

    forbid_scan(monkeypatch)
    again, errors = discover(only=["peek_plugin_fake"], cache_file=cache)

    assert errors == []
    assert again == first
    assert str(again[0].manifest.version) == "2.5"


def test_an_edited_manifest_invalidates_the_cache(install: Install, tmp_path: Path) -> None:
    package = install("fake")
    cache = tmp_path / "discovery.json"
    discover(cache_file=cache)
    manifest = package / MANIFEST_FILE
    manifest.write_text(manifest.read_text().replace('title = "Fake"', 'title = "Renamed"'))

    specs, _ = discover(only=["peek_plugin_fake"], cache_file=cache)

    assert specs[0].manifest.title == "Renamed"


def test_installing_a_plugin_invalidates_the_cache(install: Install, tmp_path: Path) -> None:
    install("fake")
    cache = tmp_path / "discovery.json"
    discover(cache_file=cache)
    # Directory mtimes have a coarse clock on some file systems: make the change visible.
    site = next(Path(p) for p in sys.path if p.endswith("site-packages") and "tmp" in p)
    before = site.stat().st_mtime_ns
    install("other")
    os.utime(site, ns=(before + 10**9, before + 10**9))

    specs, errors = discover(cache_file=cache)

    assert {"peek_plugin_fake", "peek_plugin_other"} <= set(names(specs))
    assert errors == []


def test_broken_manifests_are_remembered_as_errors(install: Install, tmp_path: Path) -> None:
    install("broken", toml="title = [unclosed\n")
    cache = tmp_path / "discovery.json"
    discover(cache_file=cache)

    specs, errors = discover(only=["peek_plugin_broken"], cache_file=cache)

    assert specs == []
    assert isinstance(errors[0], ManifestError)
    assert "not valid TOML" in str(errors[0])


def test_a_corrupt_cache_file_is_ignored(install: Install, tmp_path: Path) -> None:
    install("fake")
    cache = tmp_path / "discovery.json"
    cache.write_text("{not json")

    specs, errors = discover(only=["peek_plugin_fake"], cache_file=cache)

    assert names(specs) == ["peek_plugin_fake"]
    assert errors == []
    assert '"format"' in cache.read_text()
