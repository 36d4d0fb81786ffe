"""nix/appliance.nix, the all-in-one appliance, evaluated with Peek's modules
(stub pkgs and NixOS options, as in test_nix_modules.py)."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.nixeval import nix_eval

UPSTREAM = ("agent", "client", "worker")

# The two NixOS options the appliance sets that Peek's modules do not use
# (tests/appliance/nix/nixos-options.nix declares only those), and the one
# package it adds.
EXPRESSION = """let
  extras = {
    options.services.openssh = lib.mkOption {
      type = lib.types.attrsOf lib.types.anything;
      default = { };
    };
    options.system.stateVersion = lib.mkOption { type = lib.types.str; };
  };
  evaluated = lib.evalModules {
    modules = [
      ./tests/appliance/nix/nixos-options.nix
      ./modules
      ./nix/appliance.nix
      extras
    ];
    specialArgs = {
      pkgs = pkgs // {
        util-linux = {
          type = "derivation";
          name = "util-linux";
          outPath = "/nix/store/util-linux";
        };
      };
      modulesPath = null;
    };
  };
  c = evaluated.config;
  tokens = c.systemd.services.peek-appliance-tokens;
in
{
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
  units = builtins.attrNames (lib.filterAttrs (n: _: lib.hasPrefix "peek" n) c.systemd.services);
  tokens = {
    inherit (tokens) after wants before wantedBy script serviceConfig;
    path = map toString tokens.path;
  };
  credentials = lib.genAttrs [ "agent" "client" "worker" ]
    (kind: c.systemd.services."peek-${kind}".serviceConfig.LoadCredential);
  ports = c.networking.firewall.allowedTCPPorts;
  local = {
    postgresql = c.services.postgresql.enable;
    rabbitmq = c.services.rabbitmq.enable;
    redis = c.services.redis.servers.peek.enable;
  };
  plugins = c.services.peek.environment.peekPlugins;
  firstPartyPlugins = builtins.attrNames
    (lib.filterAttrs (n: _: lib.hasPrefix "peek-plugin-" n) pkgs.python3Packages);
}"""


@pytest.fixture(scope="module")
def appliance() -> dict[str, Any]:
    result: dict[str, Any] = nix_eval(EXPRESSION)
    return result


def test_the_appliance_fails_no_assertion(appliance: dict[str, Any]) -> None:
    assert appliance["failedAssertions"] == []


def test_the_appliance_runs_all_four_services(appliance: dict[str, Any]) -> None:
    assert {f"peek-{kind}" for kind in ("server", *UPSTREAM)} <= set(appliance["units"])


def test_the_appliance_makes_its_database_broker_and_result_backend_locally(
    appliance: dict[str, Any],
) -> None:
    assert appliance["local"] == {"postgresql": True, "rabbitmq": True, "redis": True}


def test_the_appliance_runs_every_first_party_plugin(appliance: dict[str, Any]) -> None:
    assert appliance["firstPartyPlugins"], "no first-party plugin was found"
    assert appliance["plugins"] == sorted(appliance["firstPartyPlugins"])


def test_only_the_user_site_is_open_to_the_network(appliance: dict[str, Any]) -> None:
    assert appliance["ports"] == [8000]


def test_tokens_are_made_after_the_server_and_before_the_services_that_present_them(
    appliance: dict[str, Any],
) -> None:
    tokens = appliance["tokens"]
    units = sorted(f"peek-{kind}.service" for kind in UPSTREAM)
    assert tokens["after"] == ["peek-server.service"]
    assert tokens["wants"] == ["peek-server.service"]
    assert sorted(tokens["before"]) == units
    assert sorted(tokens["wantedBy"]) == units


def test_each_local_service_gets_its_own_token_as_a_credential(appliance: dict[str, Any]) -> None:
    assert appliance["credentials"] == {
        kind: f"token:/var/lib/peek-appliance/{kind}.token" for kind in UPSTREAM
    }


def test_tokens_are_made_once_by_the_peek_user_into_a_root_only_directory(
    appliance: dict[str, Any],
) -> None:
    tokens = appliance["tokens"]
    assert tokens["serviceConfig"] == {
        "Type": "oneshot",
        "RemainAfterExit": True,
        "StateDirectory": "peek-appliance",
        "StateDirectoryMode": "0700",
    }
    script = tokens["script"]
    assert "for kind in client agent worker; do" in script
    assert "[[ -s $file ]] && continue" in script
    assert "runuser -u peek --" in script
    assert "install -m 0600" in script
    assert tokens["path"] == ["/nix/store/util-linux"]
