"""nix/webapps.nix: the web apps built from ui/ with buildNpmPackage and importNpmLock.

The derivation is evaluated with the stub ``pkgs`` of tests/appliance/nix/pkgs.nix,
whose ``importNpmLock`` fetches each package of a lock by its ``resolved`` URL and
``integrity`` as nixpkgs' does; building it is left to a real Nix CI. The locks
themselves are checked as JSON: importNpmLock needs a ``resolved`` URL for every
package, and npm leaves them out when ``omit-lockfile-registry-resolved`` is set.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
from pathlib import Path
from typing import Any

import pytest

from appliance.nixeval import REPO, lib_path, nix_eval
from appliance.npmlock import registry_packages, tarball_url

WEBAPPS = "(pkgs.callPackage ./nix/webapps.nix { })"
LOCKS = ("ui/package-lock.json", "ui/vortex/package-lock.json")
REGENERATE = (
    "importNpmLock (nix/webapps.nix) fetches each package by its lock's `resolved` URL, which "
    "npm leaves out under omit-lockfile-registry-resolved=true (~/.npmrc); add them with "
    "`.venv/bin/python tests/appliance/npmlock.py <lock>` (versions and integrity stay as they are)"
)


def _ui_workspaces() -> list[str]:
    workspaces: list[str] = json.loads((REPO / "ui" / "package.json").read_text())["workspaces"]
    return workspaces


def _plugins_with_ui() -> dict[str, str]:
    """Plugin folder name -> the folder its package.json says the build writes."""
    plugins = {}
    for workspace in _ui_workspaces():
        if workspace.startswith("../plugins/"):
            name = workspace.removeprefix("../plugins/")
            package = json.loads((REPO / "plugins" / name / "package.json").read_text())
            plugins[name] = package["peek"]["dist"]
    return plugins


def _source_files() -> set[str]:
    """The files of the derivation's source, as its filter picks them from the repository.

    Walks the repository one level at a time, asking the filter about each entry and
    descending only into the folders it keeps, as ``builtins.path`` does.
    """
    kept: set[str] = set()
    folders = [""]
    while folders:
        entries = []
        for folder in folders:
            for child in sorted((REPO / folder).iterdir()):
                kind = "directory" if child.is_dir() and not child.is_symlink() else "regular"
                entries.append({"rel": str(child.relative_to(REPO)), "type": kind})
        chosen: list[bool] = nix_eval(
            f'map (e: {WEBAPPS}.source.filter (toString ./. + "/" + e.rel) e.type) '
            f"(builtins.fromJSON {json.dumps(json.dumps(entries))})"
        )
        folders = []
        for entry, keep in zip(entries, chosen, strict=True):
            if keep and entry["type"] == "directory":
                folders.append(entry["rel"])
            elif keep:
                kept.add(entry["rel"])
    return kept


@pytest.fixture(scope="module")
def source_files() -> set[str]:
    return _source_files()


@pytest.fixture(scope="module")
def webapps() -> dict[str, Any]:
    result: dict[str, Any] = nix_eval(
        f"""let w = {WEBAPPS}; in {{
  inherit (w) pname sourceRoot preBuild installPhase plugins;
  src = w.src.outPath;
  configHook = w.npmConfigHook == pkgs.importNpmLock.npmConfigHook;
  modules = w.imported.modules;
  links = builtins.fromJSON w.npmDeps.links;
  npmDeps = w.npmDeps.script;
  imported = w.imported.outPath;
  vortexModules = w.vortexModules.npmDeps.modules;
  vortexNodeModules = w.vortexModules.outPath;
  check = w.matchesCommitted.script;
}}"""
    )
    return result


# -- the locks -------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_path", LOCKS)
def test_every_registry_package_of_a_lock_has_a_resolved_url_and_integrity(
    lock_path: str,
) -> None:
    lock = json.loads((REPO / lock_path).read_text())
    packages = registry_packages(lock)
    assert packages
    without = sorted(
        path
        for path, entry in packages.items()
        if "resolved" not in entry or "integrity" not in entry
    )
    assert not without, (
        f"{lock_path}: {len(without)} packages lack resolved/integrity "
        f"(e.g. {without[:3]}); {REGENERATE}"
    )


@pytest.mark.parametrize("lock_path", LOCKS)
def test_a_resolved_url_is_the_registry_tarball_of_the_locked_version(lock_path: str) -> None:
    lock = json.loads((REPO / lock_path).read_text())
    for path, entry in registry_packages(lock).items():
        assert entry["resolved"] == tarball_url(path, entry), path


# -- the derivation --------------------------------------------------------------------------


def test_the_flake_offers_the_web_apps_and_a_check_against_the_committed_copies(
    tmp_path: Path,
) -> None:
    # A nixpkgs whose pkgs are the stub ones (test_flake.py does the same).
    (tmp_path / "default.nix").write_text(
        f"""{{ system, ... }}:
import {REPO}/tests/appliance/nix/pkgs.nix {{ lib = import {lib_path()}; }} // {{ inherit system; }}
"""
    )
    outputs = nix_eval(
        f"""let
  nixpkgs = {{ outPath = "{tmp_path}"; inherit lib; }};
  self = (import ./flake.nix).outputs {{ inherit self nixpkgs; }};
  w = pkgs.callPackage ./nix/webapps.nix {{ }};
in
builtins.mapAttrs (system: packages: {{
  package = packages.peek-webapps.outPath == w.outPath;
  check = self.checks.${{system}}.webapps-match-committed.outPath == w.matchesCommitted.outPath;
}}) self.packages"""
    )
    assert outputs == {
        system: {"package": True, "check": True} for system in ("x86_64-linux", "aarch64-linux")
    }


def test_the_web_apps_fetch_every_locked_package_through_import_npm_lock(
    webapps: dict[str, Any],
) -> None:
    assert webapps["configHook"] is True
    lock = json.loads((REPO / "ui" / "package-lock.json").read_text())
    fetched = {
        path: module["url"] for path, module in webapps["modules"].items() if "url" in module
    }
    assert fetched == {path: entry["resolved"] for path, entry in registry_packages(lock).items()}


def test_the_vortex_client_is_built_with_modules_from_its_own_lock(webapps: dict[str, Any]) -> None:
    lock = json.loads((REPO / "ui" / "vortex" / "package-lock.json").read_text())
    fetched = {path: m["url"] for path, m in webapps["vortexModules"].items() if "url" in m}
    assert fetched == {path: entry["resolved"] for path, entry in registry_packages(lock).items()}
    assert (
        f"cp -r {webapps['vortexNodeModules']}/node_modules vortex/node_modules"
        in webapps["preBuild"]
    )


def test_the_build_runs_in_ui_of_the_filtered_source(webapps: dict[str, Any]) -> None:
    assert webapps["sourceRoot"] == f"{Path(webapps['src']).name.split('-', 1)[1]}/ui"


def test_workspace_links_bypass_import_npm_lock_and_return_to_the_lock_npm_installs(
    webapps: dict[str, Any], source_files: set[str]
) -> None:
    lock = json.loads((REPO / "ui" / "package-lock.json").read_text())
    links = {path: entry for path, entry in lock["packages"].items() if entry.get("link")}
    assert links
    assert not set(links) & set(webapps["modules"])
    assert webapps["links"] == links
    assert f"{webapps['imported']}/package-lock.json" in webapps["npmDeps"]
    for path, entry in links.items():
        folder = posixpath.normpath(f"ui/{entry['resolved']}")
        assert f"{folder}/package.json" in source_files, path


def test_the_source_holds_the_ui_workspace_and_its_lock(source_files: set[str]) -> None:
    assert {"ui/package.json", "ui/package-lock.json", "ui/build/build-all.mjs"} <= source_files
    assert {"ui/vortex/package.json", "ui/vortex/package-lock.json"} <= source_files
    for workspace in _ui_workspaces():
        assert posixpath.normpath(f"ui/{workspace}/package.json") in source_files


def test_the_source_holds_each_plugins_ui_sources(source_files: set[str]) -> None:
    for name in _plugins_with_ui():
        package = json.loads((REPO / "plugins" / name / "package.json").read_text())
        for entry in package["peek"]["entries"].values():
            assert f"plugins/{name}/{entry}" in source_files


def test_the_source_leaves_out_the_platform_plugin_python_and_built_trees(
    source_files: set[str],
) -> None:
    assert not any(path.startswith("peek_src/") for path in source_files)
    assert not any(path.endswith(".py") and not path.startswith("ui/") for path in source_files)
    assert not any("/node_modules/" in path for path in source_files)
    assert not any(path.startswith("ui/vortex/dist/") for path in source_files)
    for name, dist in _plugins_with_ui().items():
        assert not any(path.startswith(f"plugins/{name}/{dist}/") for path in source_files)


def test_the_install_copies_the_apps_and_every_plugins_ui_dist(webapps: dict[str, Any]) -> None:
    plugins = _plugins_with_ui()
    assert webapps["plugins"] == list(plugins)
    assert "cp -r ../peek_src/peek/webapps/. $out/webapps/" in webapps["installPhase"]
    for name, dist in plugins.items():
        assert (
            f"cp -r ../plugins/{name}/{dist}/. $out/plugins/{name}/{dist}/"
            in webapps["installPhase"]
        )


def test_the_check_compares_every_built_tree_with_its_committed_copy(
    webapps: dict[str, Any],
) -> None:
    compared = [
        line.split()[2:] for line in webapps["check"].splitlines() if line.startswith("diff -r")
    ]
    built = [Path(pair[0]) for pair in compared]
    committed = [Path(pair[1]) for pair in compared]
    expected = [("webapps", REPO / "peek_src" / "peek" / "webapps")] + [
        (f"plugins/{name}/{dist}", REPO / "plugins" / name / dist)
        for name, dist in _plugins_with_ui().items()
    ]
    assert [str(path).split("-peek-webapps-0/", 1)[1] for path in built] == [e[0] for e in expected]
    # The committed side is each folder of the repository as Nix copies it.
    folders = " ".join(f'"${{./{e[1].relative_to(REPO)}}}"' for e in expected)
    assert [str(path) for path in committed] == nix_eval(f"[ {folders} ]")


@pytest.mark.parametrize("path", ["nix/webapps.nix", "flake.nix", "tests/appliance/nix/pkgs.nix"])
def test_the_nix_files_parse(path: str) -> None:
    parsed = subprocess.run(
        ["nix-instantiate", "--parse", str(REPO / path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert parsed.returncode == 0, parsed.stderr
