"""The services' Python environment: ``services.peek.package``, configured plugins and the
wheels of a generation lock, each built against that one platform (``modules/common.nix``,
``nix/environment.nix``, ``nix/rebase.nix``; stub pkgs as in test_nix_modules.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from appliance.nixeval import NixError, evaluate_modules, nix_eval

SERVER = "{ services.peek.server.enable = true; }"
USER_PLUGIN = (
    "{ pkgs, ... }: { services.peek.plugins = [ pkgs.python3Packages.peek-plugin-user ]; }"
)
UPGRADE = (
    "{ pkgs, ... }: { services.peek.package ="
    ' pkgs.peek.overridePythonAttrs (old: { version = "0.1.0.post1"; }); }'
)


def write_generation(root: Path, plugins: dict[str, list[str]], *, manifest: bool = True) -> Path:
    """A generation directory as the nixos backend writes it: each plugin's wheel, the lock
    naming it by sha256, and the manifest with each wheel's Requires-Dist; the lock's path."""
    (root / "wheels").mkdir(parents=True)
    entries = {}
    described = {}
    for name, requires_dist in plugins.items():
        wheel = f"{name}-0.2.0-py3-none-any.whl"
        data = f"wheel of {name}".encode()
        (root / "wheels" / wheel).write_bytes(data)
        entries[name] = {
            "version": "0.2.0",
            "sha256": hashlib.sha256(data).hexdigest(),
            "wheel": f"wheels/{wheel}",
        }
        described[name] = {"name": name, "version": "0.2.0", "requires_dist": requires_dist}
    body = json.dumps({"number": 3, "plugins": described}, sort_keys=True).encode()
    if manifest:
        (root / "generation.json").write_bytes(body)
    lock = {"generation": 3, "digest": hashlib.sha256(body).hexdigest(), "plugins": entries}
    (root / "generation.lock.json").write_text(json.dumps(lock))
    return root / "generation.lock.json"


def with_lock(lock: Path) -> str:
    return f"{{ services.peek.generationLock = {lock}; }}"


def modules(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The environment's Python closure by package name."""
    return {m["pname"]: m for m in result["environmentModules"]}


def package(expression: str) -> dict[str, Any]:
    found: dict[str, Any] = nix_eval(
        f"let p = {expression}; in {{ inherit (p) version; path = p.outPath; }}"
    )
    return found


# -- services.peek.package ------------------------------------------------------------------


def test_the_environment_runs_the_configured_platform_package() -> None:
    result = evaluate_modules(SERVER, USER_PLUGIN, UPGRADE)
    platform = modules(result)["peek-platform"]
    upgraded = package('pkgs.peek.overridePythonAttrs (old: { version = "0.1.0.post1"; })')
    assert (platform["version"], platform["path"]) == ("0.1.0.post1", upgraded["path"])


def test_another_platform_package_is_another_environment() -> None:
    before = evaluate_modules(SERVER, USER_PLUGIN)["environmentPath"]
    after = evaluate_modules(SERVER, USER_PLUGIN, UPGRADE)["environmentPath"]
    assert before != after


def test_configured_plugins_are_rebuilt_against_another_platform_package() -> None:
    result = evaluate_modules(SERVER, USER_PLUGIN, UPGRADE)
    user = modules(result)["peek-plugin-user"]
    assert user["path"] != package("pkgs.python3Packages.peek-plugin-user")["path"]
    assert user["dependencies"] == ["peek-platform", "argon2-cffi"]
    assert [m["pname"] for m in result["environmentModules"]].count("peek-platform") == 1


def test_with_the_default_package_configured_plugins_are_used_as_they_are() -> None:
    result = evaluate_modules(SERVER, USER_PLUGIN)
    assert (
        modules(result)["peek-plugin-user"]["path"]
        == package("pkgs.python3Packages.peek-plugin-user")["path"]
    )
    assert modules(result)["peek-platform"]["path"] == package("pkgs.peek")["path"]


def test_a_plugin_requiring_another_plugin_is_rebuilt_against_the_rebuilt_one() -> None:
    rebased = nix_eval(
        """let
  platform = pkgs.peek.overridePythonAttrs (old: { version = "9"; });
  base = pkgs.python3Packages.peek-plugin-user;
  needsBase = pkgs.python3Packages.buildPythonPackage {
    pname = "peek-plugin-needs-user"; version = "1"; dependencies = [ base ];
  };
  rebased = import ./nix/rebase.nix { inherit lib; } platform needsBase;
in map (m: { inherit (m) pname version; }) rebased.requiredPythonModules"""
    )
    platforms = [m for m in rebased if m["pname"] == "peek-platform"]
    assert platforms == [{"pname": "peek-platform", "version": "9"}]
    assert "peek-plugin-user" in [m["pname"] for m in rebased]


# -- the wheels of a generation lock -----------------------------------------------------------


def test_an_uploaded_wheel_depends_on_the_configured_platform(tmp_path: Path) -> None:
    lock = write_generation(tmp_path, {"peek_plugin_vmcheck": ["peek-platform>=0.1"]})

    result = evaluate_modules(SERVER, UPGRADE, with_lock(lock))

    wheel = modules(result)["peek_plugin_vmcheck"]
    assert wheel["dependencies"] == ["peek-platform"]
    platforms = [m for m in result["environmentModules"] if m["pname"] == "peek-platform"]
    assert [p["version"] for p in platforms] == ["0.1.0.post1"]


def test_an_uploaded_wheel_depends_on_the_plugins_of_the_lock_it_requires(tmp_path: Path) -> None:
    lock = write_generation(
        tmp_path,
        {
            "peek_plugin_base": ["peek-platform>=0.1"],
            "peek_plugin_top": ["peek-platform>=0.1", "peek-plugin-base>=0.2"],
        },
    )

    result = evaluate_modules(SERVER, with_lock(lock))

    assert modules(result)["peek_plugin_top"]["dependencies"] == [
        "peek-platform",
        "peek_plugin_base",
    ]


def test_an_uploaded_wheel_depends_on_a_configured_plugin_it_requires(tmp_path: Path) -> None:
    lock = write_generation(
        tmp_path, {"peek_plugin_tasks": ["peek-platform>=0.1", "peek_plugin_user>=0.1"]}
    )

    result = evaluate_modules(SERVER, USER_PLUGIN, UPGRADE, with_lock(lock))

    closure = modules(result)
    assert closure["peek_plugin_tasks"]["dependencies"] == ["peek-platform", "peek-plugin-user"]
    assert closure["peek-plugin-user"]["version"] == "0.1.0", "the configured one, rebuilt"
    assert [m["pname"] for m in result["environmentModules"]].count("peek-platform") == 1


def test_third_party_requirements_come_from_the_package_set_and_extras_are_left_out(
    tmp_path: Path,
) -> None:
    lock = write_generation(
        tmp_path,
        {
            "peek_plugin_x": [
                "peek-platform>=0.1",
                "Argon2_CFFI>=23.1",
                "left-pad>=1; extra == 'dev'",
                "also-missing>=1; python_version < '3.0'",
            ]
        },
    )

    result = evaluate_modules(SERVER, with_lock(lock))

    assert modules(result)["peek_plugin_x"]["dependencies"] == ["peek-platform", "argon2-cffi"]


def test_a_requirement_nothing_provides_fails_evaluation_naming_plugin_and_requirement(
    tmp_path: Path,
) -> None:
    lock = write_generation(tmp_path, {"peek_plugin_x": ["peek-platform", "left-pad>=1"]})

    with pytest.raises(NixError, match="peek_plugin_x requires 'left-pad>=1', which is neither"):
        evaluate_modules(SERVER, with_lock(lock))


def test_an_unknown_peek_plugin_is_not_taken_from_the_package_set(tmp_path: Path) -> None:
    # It would add a plugin nobody configured or uploaded to the environment.
    lock = write_generation(tmp_path, {"peek_plugin_x": ["peek-plugin-noop>=0.1"]})

    with pytest.raises(NixError, match=r"requires .peek-plugin-noop>=0\.1., which is neither"):
        evaluate_modules(SERVER, with_lock(lock))


def test_a_lock_without_its_manifest_fails_evaluation(tmp_path: Path) -> None:
    lock = write_generation(tmp_path, {"peek_plugin_x": ["peek-platform"]}, manifest=False)

    with pytest.raises(NixError, match=r"generation\.json .*is missing"):
        evaluate_modules(SERVER, with_lock(lock))


def test_a_manifest_the_lock_does_not_name_fails_evaluation(tmp_path: Path) -> None:
    lock = write_generation(tmp_path, {"peek_plugin_x": ["peek-platform"]})
    (tmp_path / "generation.json").write_text('{"plugins": {}}')

    with pytest.raises(NixError, match="is not the manifest the lock names"):
        evaluate_modules(SERVER, with_lock(lock))


def test_an_uploaded_plugin_replaces_the_configured_one_of_the_same_project(tmp_path: Path) -> None:
    lock = write_generation(tmp_path, {"peek_plugin_user": ["peek-platform>=0.1"]})

    result = evaluate_modules(SERVER, USER_PLUGIN, with_lock(lock))

    assert result["environmentPlugins"] == ["peek_plugin_user"]
    assert "peek-plugin-user" not in modules(result)


def test_a_lock_without_plugins_needs_no_manifest(tmp_path: Path) -> None:
    lock = tmp_path / "generation.lock.json"
    lock.write_text('{"plugins": {}}')

    result = evaluate_modules(SERVER, USER_PLUGIN, with_lock(lock))

    assert result["environmentPlugins"] == ["peek-plugin-user"]
