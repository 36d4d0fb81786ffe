"""flake.nix and flake.lock: the pin, the checks, the appliance image and the in-VM system flakes.

Nix 2.8 cannot evaluate the flake here (no nixpkgs, no network), so its
``outputs`` function is called with a stand-in nixpkgs: nixpkgs' real
``lib`` and the stub ``pkgs`` of tests/appliance/nix/pkgs.nix, where a test
(``pkgs.testers.runNixOSTest``) is its own arguments, ``writeTextDir``
returns the text it would write and ``nixos/lib/eval-config.nix`` its
arguments. What is asserted is the wiring Peek's own files do; building
the systems is left to a real NixOS CI.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.nixeval import EVAL, REPO, lib_path, nix_eval

LOCK = REPO / "flake.lock"
VM_TESTS = ("topology", "plugin-rollout", "platform-upgrade")
PEEK_SOURCE = "/peek-source"
GENERATION = "/var/lib/peek/system-flake/generations/7"


@pytest.fixture(scope="module")
def stub_nixpkgs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that imports like nixpkgs and gives the stub pkgs."""
    root = tmp_path_factory.mktemp("nixpkgs")
    (root / "default.nix").write_text(
        f"""{{ system, overlays ? [ ], ... }}:
let
  lib = import {lib_path()};
  base = import {REPO}/tests/appliance/nix/pkgs.nix {{ inherit lib; }};
in
base
// {{
  inherit system;
  stdenv.hostPlatform.system = system;
  writeTextDir = name: text: text;
  testers.runNixOSTest = test: test;
  # A wheel build is its arguments, with the outputs a test script names.
  python3Packages = base.python3Packages // {{
    buildPythonPackage = args: args // {{
      dist = "/nix/store/dist-${{args.pname}}-${{args.version}}";
      inputDerivation = "/nix/store/inputs-${{args.pname}}";
    }};
  }};
}}
"""
    )
    (root / "nixos" / "lib").mkdir(parents=True)
    (root / "nixos" / "lib" / "eval-config.nix").write_text("args: args\n")
    return root


def flake_eval(stub: Path, expression: str) -> Any:
    """``expression`` with ``self`` (the flake's outputs) and ``stub`` in scope."""
    return nix_eval(
        f"""let
  stub = "{stub}";
  nixpkgs = {{ outPath = stub; inherit lib; }};
  self = (import {REPO}/flake.nix).outputs {{ inherit self nixpkgs; }}
    // {{ outPath = "{PEEK_SOURCE}"; }};
in
{expression}"""
    )


def flake_inputs(text: str, tmp_path: Path) -> dict[str, Any]:
    """Parse a generated flake.nix and return its inputs (it must parse on its own)."""
    path = tmp_path / "flake.nix"
    path.write_text(text)
    parsed = subprocess.run(
        ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True, check=False
    )
    assert parsed.returncode == 0, parsed.stderr
    inputs: dict[str, Any] = nix_eval(f"(import {path}).inputs")
    return inputs


def _url(spec: str) -> dict[str, str]:
    match = re.fullmatch(r"github:([^/]+)/([^/]+)/([^/?]+)", spec)
    assert match, f"not a github:owner/repo/ref flake URL: {spec}"
    return {"type": "github", "owner": match[1], "repo": match[2], "ref": match[3]}


# -- flake.lock ------------------------------------------------------------------------------


def test_the_lock_is_version_7_json_with_a_root_node() -> None:
    lock = json.loads(LOCK.read_text())
    assert lock["version"] == 7
    assert lock["root"] in lock["nodes"]


def test_the_lock_locks_exactly_the_inputs_flake_nix_declares() -> None:
    lib_path()
    inputs = nix_eval(f"builtins.attrNames (import {REPO}/flake.nix).inputs")
    lock = json.loads(LOCK.read_text())
    root = lock["nodes"][lock["root"]]
    assert sorted(root["inputs"]) == inputs
    for node in root["inputs"].values():
        assert node in lock["nodes"]


def test_the_locked_nixpkgs_is_the_branch_flake_nix_asks_for() -> None:
    lib_path()
    url = nix_eval(f"(import {REPO}/flake.nix).inputs.nixpkgs.url")
    lock = json.loads(LOCK.read_text())
    node = lock["nodes"][lock["nodes"][lock["root"]]["inputs"]["nixpkgs"]]
    assert node["original"] == _url(url)
    assert {k: node["locked"][k] for k in ("type", "owner", "repo")} == {
        k: node["original"][k] for k in ("type", "owner", "repo")
    }


def test_the_locked_nixpkgs_names_a_commit_its_content_hash_and_date() -> None:
    lock = json.loads(LOCK.read_text())
    locked = lock["nodes"]["nixpkgs"]["locked"]
    assert set(locked) == {"lastModified", "narHash", "owner", "repo", "rev", "type"}
    assert re.fullmatch(r"[0-9a-f]{40}", locked["rev"])
    algorithm, _, digest = locked["narHash"].partition("-")
    assert algorithm == "sha256"
    assert len(base64.b64decode(digest, validate=True)) == 32
    assert isinstance(locked["lastModified"], int) and locked["lastModified"] > 0


def test_flake_nix_says_where_its_pin_came_from() -> None:
    lock = json.loads(LOCK.read_text())
    assert lock["nodes"]["nixpkgs"]["locked"]["rev"] in (REPO / "flake.nix").read_text()


# -- outputs ----------------------------------------------------------------------------------


def test_checks_run_every_vm_test_on_x86_64_linux_only(stub_nixpkgs: Path) -> None:
    names = flake_eval(
        stub_nixpkgs, "builtins.mapAttrs (_: checks: builtins.attrNames checks) self.checks"
    )
    assert set(VM_TESTS) <= set(names["x86_64-linux"])
    assert not set(VM_TESTS) & set(names["aarch64-linux"])


def test_each_vm_test_is_a_nixos_test_with_its_hosts(stub_nixpkgs: Path) -> None:
    tests = flake_eval(
        stub_nixpkgs,
        "builtins.mapAttrs (_: t: { inherit (t) name; nodes = builtins.attrNames t.nodes; })"
        " { inherit (self.checks.x86_64-linux) plugin-rollout platform-upgrade; }",
    )
    assert tests == {
        "plugin-rollout": {"name": "peek-plugin-rollout", "nodes": ["agent", "client", "server"]},
        "platform-upgrade": {"name": "peek-platform-upgrade", "nodes": ["appliance"]},
    }


def test_the_appliance_image_is_an_x86_64_linux_package(stub_nixpkgs: Path) -> None:
    names = flake_eval(
        stub_nixpkgs,
        'builtins.mapAttrs (_: p: builtins.hasAttr "appliance-image" p) self.packages',
    )
    assert names == {"x86_64-linux": True, "aarch64-linux": False}


def test_the_appliance_is_peek_and_nixpkgs_disk_image_module(stub_nixpkgs: Path) -> None:
    system = flake_eval(
        stub_nixpkgs,
        """let
  args = self.nixosConfigurations.appliance;
  own = builtins.elemAt args.modules 4 { pkgs = import stub { system = "x86_64-linux"; }; };
in
{
  inherit (args) system;
  paths = map toString (builtins.genList (builtins.elemAt args.modules) 4);
  inherit (own) image;
  platform = own.nixpkgs.hostPlatform;
  rebuild = { inherit (own.services.peek.rebuild) enable configuration; };
  moduleCount = builtins.length args.modules;
}""",
    )
    assert system == {
        "system": None,
        "paths": [
            f"{PEEK_SOURCE}/modules/overlay.nix",
            f"{PEEK_SOURCE}/modules",
            f"{PEEK_SOURCE}/nix/appliance.nix",
            f"{stub_nixpkgs}/nixos/modules/virtualisation/disk-image.nix",
        ],
        "image": {"format": "qcow2", "efiSupport": True, "baseName": "peek-appliance"},
        "platform": "x86_64-linux",
        "rebuild": {"enable": True, "configuration": "appliance"},
        "moduleCount": 5,
    }


# -- the system flakes hosts rebuild from -------------------------------------------------------


def _rollout_flake(stub: Path) -> str:
    flake: str = flake_eval(
        stub,
        "(self.checks.x86_64-linux.plugin-rollout.nodes.server { }).services.peek.rebuild.flake",
    )
    assert flake.startswith("path:")
    return flake.removeprefix("path:")


def _appliance_flake(stub: Path) -> str:
    flake: str = flake_eval(
        stub,
        "(builtins.elemAt self.nixosConfigurations.appliance.modules 4"
        ' { pkgs = import stub { system = "x86_64-linux"; }; }).services.peek.rebuild.flake',
    )
    assert flake.startswith("path:")
    return flake.removeprefix("path:")


@pytest.mark.parametrize("which", ["rollout", "appliance"])
def test_a_system_flake_takes_the_running_generation_as_a_pure_non_flake_input(
    which: str, stub_nixpkgs: Path, tmp_path: Path
) -> None:
    text = _rollout_flake(stub_nixpkgs) if which == "rollout" else _appliance_flake(stub_nixpkgs)
    inputs = flake_inputs(text, tmp_path)
    assert inputs == {
        "nixpkgs": {"url": f"path:{stub_nixpkgs}", "flake": False},
        "peek": {"url": f"path:{PEEK_SOURCE}", "flake": False},
        "peek-generation": {
            "url": "path:/var/lib/peek-rebuild/current",
            "flake": False,
        },
    }


def _outputs(text: str, stub: Path, tmp_path: Path, expression: str) -> Any:
    path = tmp_path / "flake.nix"
    path.write_text(text)
    return nix_eval(
        f"""let
  outputs = (import {path}).outputs {{
    nixpkgs = {{ outPath = "{stub}"; }};
    peek = {{ outPath = "{REPO}"; }};
    peek-generation = {{ outPath = "{GENERATION}"; }};
  }};
in
{expression}"""
    )


def test_the_rollout_flake_rebuilds_each_test_host_with_the_generation_lock(
    stub_nixpkgs: Path, tmp_path: Path
) -> None:
    result = _outputs(
        _rollout_flake(stub_nixpkgs),
        stub_nixpkgs,
        tmp_path,
        """builtins.mapAttrs (name: host: let node = host.config { }; in {
  lock = (builtins.elemAt node.imports 2).services.peek.generationLock;
  rebuilds = node.services.peek.rebuild.enable;
}) outputs.nixosConfigurations""",
    )
    lock = f"{GENERATION}/generation.lock.json"
    assert result == {
        name: {"lock": lock, "rebuilds": True} for name in ("agent", "client", "server")
    }


def test_the_appliance_flake_rebuilds_the_appliance_with_the_generation_lock(
    stub_nixpkgs: Path, tmp_path: Path
) -> None:
    result = _outputs(
        _appliance_flake(stub_nixpkgs),
        stub_nixpkgs,
        tmp_path,
        """let args = outputs.nixosConfigurations.appliance; in {
  names = builtins.attrNames outputs.nixosConfigurations;
  last = builtins.elemAt args.modules (builtins.length args.modules - 1);
  first = map toString (builtins.genList (builtins.elemAt args.modules) 4);
}""",
    )
    assert result == {
        "names": ["appliance"],
        "last": {"services": {"peek": {"generationLock": f"{GENERATION}/generation.lock.json"}}},
        "first": [
            f"{REPO}/modules/overlay.nix",
            f"{REPO}/modules",
            f"{REPO}/nix/appliance.nix",
            f"{stub_nixpkgs}/nixos/modules/virtualisation/disk-image.nix",
        ],
    }


# -- the test scripts ------------------------------------------------------------------------

# What the NixOS test driver gives a test script besides its machines.
DRIVER = ("start_all", "subtest", "retry", "machines", "driver", "log", "join_all")
HOSTS = {
    "topology": ("server", "client", "agent", "admin", "browser"),
    "plugin-rollout": ("server", "client", "agent"),
    "platform-upgrade": ("appliance",),
}


@pytest.mark.parametrize("test", sorted(HOSTS))
def test_a_vm_test_script_is_python_using_only_its_machines_and_the_driver(
    test: str, stub_nixpkgs: Path, tmp_path: Path
) -> None:
    script: str = flake_eval(stub_nixpkgs, f"self.checks.x86_64-linux.{test}.testScript")
    path = tmp_path / f"{test}.py"
    path.write_text(script)
    compile(script, str(path), "exec")
    names = ", ".join(f'"{name}"' for name in (*DRIVER, *HOSTS[test]))
    lint = subprocess.run(
        [
            str(Path(sys.executable).with_name("ruff")),
            "check",
            "--isolated",
            "--select",
            "F",
            "--config",
            f"builtins = [{names}]",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_each_rollout_host_rebuilds_with_the_nixos_backend_and_fails_no_assertion(
    stub_nixpkgs: Path,
) -> None:
    # Each node's own host module and its services.peek.rebuild, through
    # Peek's real modules (tests/appliance/nix/eval.nix).
    hosts = flake_eval(
        stub_nixpkgs,
        f"""builtins.mapAttrs (name: module: let
  node = module {{ }};
  evaluated = import {EVAL} {{
    inherit lib;
    modules = [
      (builtins.elemAt node.imports 1)
      {{ services.peek.rebuild = node.services.peek.rebuild; }}
    ];
  }};
in {{
  inherit (evaluated) failedAssertions;
  backend = evaluated.settings.rollout.backend;
  units = builtins.filter (unit: unit == "peek-rebuild" || unit == "peek-${{name}}")
    (builtins.attrNames evaluated.services);
}}) self.checks.x86_64-linux.plugin-rollout.nodes""",
    )
    assert hosts == {
        name: {
            "failedAssertions": [],
            "backend": "nixos",
            "units": sorted([f"peek-{name}", "peek-rebuild"]),
        }
        for name in ("agent", "client", "server")
    }
