"""Peek's Nix files, evaluated with nixpkgs' real module system (stub pkgs and NixOS options)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from appliance.nixeval import REPO, NixError, evaluate_modules, lib_path, nix_eval
from peek.services.units import HARDENING

NIX_FILES = sorted(
    p for p in REPO.rglob("*.nix") if not {".venv", ".git", "node_modules"} & set(p.parts)
)
CLIENT_TOKEN = 'tokenFile = "/etc/peek/client.token";'


@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_nix_file_parses(path: Path):
    lib_path()  # skips (fails under CI) without nix-instantiate
    result = subprocess.run(
        ["nix-instantiate", "--parse", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_appliance_has_the_expected_nix_files():
    names = {str(p.relative_to(REPO)) for p in NIX_FILES}
    for expected in (
        "flake.nix",
        "nix/python-packages.nix",
        "nix/environment.nix",
        "nix/overlay.nix",
        "modules/default.nix",
        "modules/server.nix",
        "modules/client.nix",
        "modules/agent.nix",
        "modules/worker.nix",
        "vm_tests/topology.nix",
    ):
        assert expected in names


# -- packages -------------------------------------------------------------


def _pyproject(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())["project"]


def test_packages_take_name_and_version_from_each_pyproject():
    packages = nix_eval(
        "lib.mapAttrs (_: p: { inherit (p) pname version; })"
        ' (lib.filterAttrs (n: _: lib.hasPrefix "peek-" n) pkgs.python3Packages)'
    )
    projects = [REPO, *sorted(p.parent for p in REPO.glob("plugins/*/pyproject.toml"))]
    expected = {
        _pyproject(p)["name"]: {"pname": _pyproject(p)["name"], "version": _pyproject(p)["version"]}
        for p in projects
    }
    assert packages == expected


def test_package_dependencies_come_from_pyproject():
    deps = nix_eval("pkgs.python3Packages.peek-plugin-user.dependencies")
    assert deps == ["peek-platform", "argon2-cffi"]
    platform = nix_eval("pkgs.python3Packages.peek-platform.dependencies")
    assert "pydantic-settings" in platform and "twisted" in platform


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("aiohttp>=3.9", "aiohttp"),
        ("pydantic-settings>=2.3", "pydantic-settings"),
        ("Argon2_CFFI >= 23.1", "argon2-cffi"),
        ("zope.interface[test]; python_version>'3'", "zope-interface"),
    ],
)
def test_requirement_names_are_normalised_like_nixpkgs_attributes(requirement, name):
    quoted = requirement.replace('"', '\\"')
    expression = f'(import ./nix/pyproject.nix {{ inherit lib; }}).requirementName "{quoted}"'
    assert nix_eval(expression) == name


def test_a_dependency_missing_from_the_package_set_fails_naming_it():
    with pytest.raises(
        NixError, match="peek-plugin-x: dependency 'left-pad' is not in this Python"
    ):
        nix_eval(
            "(import ./nix/pyproject.nix { inherit lib; }).resolve {}"
            ' { pname = "peek-plugin-x"; dependencies = [ "left-pad" ]; }'
        )


def test_same_plugin_set_gives_the_same_environment_in_any_order():
    env = "import ./nix/environment.nix { python3 = pkgs.python3; }"
    paths = nix_eval(
        f"let env = {env}; in [ (env (ps: [ ps.peek-plugin-user ps.peek-plugin-noop ])).outPath"
        " (env (ps: [ ps.peek-plugin-noop ps.peek-plugin-user ps.peek-plugin-noop ])).outPath"
        " (env (ps: [ ps.peek-plugin-noop ])).outPath ]"
    )
    assert paths[0] == paths[1]
    assert paths[2] != paths[0], "another plugin set is another environment"


# -- modules: units ---------------------------------------------------------

SERVER = "{ services.peek.server.enable = true; }"


def _systemd_lines(service_config: dict) -> dict[str, str]:
    # NixOS writes a list as repeated lines; systemd joins them.
    return {
        key: " ".join(str(v) for v in value) if isinstance(value, list) else value
        for key, value in service_config.items()
    }


def test_server_unit_is_notify_with_watchdog_and_restart():
    unit = evaluate_modules(SERVER)["services"]["peek-server"]
    config = unit["serviceConfig"]
    assert config["Type"] == "notify"
    assert config["WatchdogSec"] == "60s"
    assert config["Restart"] == "on-failure"
    assert config["StateDirectory"] == "peek"
    assert config["User"] == "peek"
    assert config["ExecStart"].endswith("/bin/peek --config " + _config_file(unit) + " server")
    assert unit["wantedBy"] == ["peek.target"]
    assert unit["partOf"] == ["peek.target"]


def _config_file(unit: dict) -> str:
    return next(t for t in unit["restartTriggers"] if t.endswith("-peek.toml"))


def test_units_carry_the_same_hardening_as_the_plain_unit_files():
    result = evaluate_modules(
        SERVER,
        f"{{ services.peek.client = {{ enable = true; {CLIENT_TOKEN} }}; }}",
        '{ services.peek.agent = { enable = true; tokenFile = "/etc/peek/agent.token"; }; }',
        '{ services.peek.worker = { enable = true; tokenFile = "/etc/peek/worker.token"; }; }',
    )
    expected: dict[str, list[str]] = {}
    for key, value in HARDENING:
        expected.setdefault(key, []).append(value)
    assert len(result["services"]) == 4
    for name, unit in result["services"].items():
        lines = _systemd_lines(unit["serviceConfig"])
        for key, values in expected.items():
            nix_value = lines[key]
            nix_value = {True: "yes", False: "no"}.get(nix_value, nix_value)
            assert nix_value == " ".join(values), f"{name}: {key}"


def test_peek_target_groups_the_units_and_starts_at_boot():
    result = evaluate_modules(SERVER)
    assert result["targets"]["peek"]["wantedBy"] == ["multi-user.target"]


def test_services_run_as_the_peek_system_user():
    result = evaluate_modules(SERVER)
    assert result["users"]["peek"]["isSystemUser"] is True
    assert result["users"]["peek"]["group"] == "peek"
    assert "peek" in result["groups"]
    assert result["failedAssertions"] == []


def test_nothing_is_configured_when_no_service_is_enabled():
    result = evaluate_modules("{ }")
    assert result["services"] == {}
    assert "peek" not in result["users"]
    assert result["firewall"]["allowedTCPPorts"] == []


def test_chosen_plugins_are_built_into_the_environment_the_units_run():
    result = evaluate_modules(
        "{ pkgs, ... }: { services.peek.server.enable = true;"
        " services.peek.plugins = [ pkgs.python3Packages.peek-plugin-user ]; }"
    )
    assert result["environmentPlugins"] == ["peek-plugin-user"]
    assert result["services"]["peek-server"]["serviceConfig"]["ExecStart"].startswith(
        result["environmentPath"] + "/bin/peek "
    )


# -- modules: settings ------------------------------------------------------


def test_typed_options_and_freeform_settings_meet_in_one_configuration():
    result = evaluate_modules(
        "{ services.peek.server = { enable = true; adminPort = 9010; };"
        " services.peek.settings.plugins.hook_timeout = 12;"
        ' services.peek.settings.plugin.peek_plugin_noop.greeting = "hi"; }'
    )
    settings = result["settings"]
    assert settings["server"] == {"host": "127.0.0.1", "admin_port": 9010, "exchange_port": 8011}
    assert settings["plugins"] == {"hook_timeout": 12}
    assert settings["plugin"] == {"peek_plugin_noop": {"greeting": "hi"}}
    assert settings["data_dir"] == "/var/lib/peek"


def test_settings_that_contradict_a_typed_option_are_an_error():
    with pytest.raises(NixError, match="conflicting definition values"):
        evaluate_modules(
            "{ services.peek.server = { enable = true; adminPort = 9010; };"
            " services.peek.settings.server.admin_port = 9999; }"
        )


def test_a_port_out_of_range_is_refused():
    with pytest.raises(NixError, match="adminPort"):
        evaluate_modules("{ services.peek.server = { enable = true; adminPort = 70000; }; }")


def test_an_unknown_option_is_refused():
    with pytest.raises(NixError, match=r"services\.peek\.server\.adminPrt"):
        evaluate_modules("{ services.peek.server = { enable = true; adminPrt = 1; }; }")


def test_data_dir_outside_var_lib_fails_an_assertion():
    result = evaluate_modules(
        '{ services.peek.server.enable = true; services.peek.dataDir = "/srv/peek"; }'
    )
    assert any(
        "dataDir must be a directory under /var/lib" in m for m in result["failedAssertions"]
    )


# -- modules: upstream services --------------------------------------------


def test_client_without_server_url_fails_with_a_clear_message():
    result = evaluate_modules(f"{{ services.peek.client = {{ enable = true; {CLIENT_TOKEN} }}; }}")
    assert result["failedAssertions"] == [
        "services.peek.client.serverUrl must be set to the Peek server's data-exchange URL "
        "(e.g. http://peek-server:8011), since no server runs on this host."
    ]


def test_client_without_token_file_fails_with_a_clear_message():
    result = evaluate_modules(
        '{ services.peek.client = { enable = true; serverUrl = "http://server:8011"; }; }'
    )
    (message,) = result["failedAssertions"]
    assert "services.peek.client.tokenFile must name a root-only file" in message
    assert "peek token create --service client" in message


def test_client_beside_a_server_dials_the_local_exchange_site():
    result = evaluate_modules(
        "{ services.peek.server = { enable = true; exchangePort = 9011; };"
        f" services.peek.client = {{ enable = true; {CLIENT_TOKEN} }}; }}"
    )
    assert result["failedAssertions"] == []
    assert result["settings"]["client"]["server_url"] == "http://127.0.0.1:9011"
    assert "peek-server.service" in result["services"]["peek-client"]["after"]


def test_a_server_url_that_is_not_http_is_refused():
    with pytest.raises(NixError, match="serverUrl"):
        evaluate_modules(
            '{ services.peek.agent = { enable = true; serverUrl = "server:8011";'
            ' tokenFile = "/etc/peek/agent.token"; }; }'
        )


@pytest.mark.parametrize("kind", ["client", "agent", "worker"])
def test_upstream_token_reaches_the_unit_as_a_credential(kind):
    unit = evaluate_modules(
        f'{{ services.peek.{kind} = {{ enable = true; serverUrl = "http://server:8011";'
        f' tokenFile = "/etc/peek/{kind}.token"; }}; }}'
    )["services"][f"peek-{kind}"]
    assert unit["serviceConfig"]["LoadCredential"] == f"token:/etc/peek/{kind}.token"
    assert unit["environment"][f"PEEK__{kind.upper()}__TOKEN_FILE"] == "%d/token"


# -- modules: firewall ------------------------------------------------------


def test_server_opens_no_port_by_default():
    firewall = evaluate_modules(SERVER)["firewall"]
    assert firewall["allowedTCPPorts"] == []
    assert firewall["interfaces"] == {}


def test_server_open_firewall_opens_the_exchange_port_but_never_admin():
    result = evaluate_modules("{ services.peek.server = { enable = true; openFirewall = true; }; }")
    assert result["firewall"]["allowedTCPPorts"] == [8011]
    assert result["settings"]["server"]["host"] == "0.0.0.0"


def test_server_opens_exchange_and_admin_only_on_their_interfaces():
    firewall = evaluate_modules(
        "{ services.peek.server = { enable = true;"
        ' exchangeInterfaces = [ "eth1" "eth3" ]; adminInterfaces = [ "eth2" ]; }; }'
    )["firewall"]
    assert firewall["allowedTCPPorts"] == []
    assert {name: i["allowedTCPPorts"] for name, i in firewall["interfaces"].items()} == {
        "eth1": [8011],
        "eth2": [8010],
        "eth3": [8011],
    }


def test_client_open_firewall_opens_the_user_site_port():
    result = evaluate_modules(
        "{ services.peek.client = { enable = true; openFirewall = true; port = 8080;"
        f' serverUrl = "http://s:8011"; {CLIENT_TOKEN} }}; }}'
    )
    assert result["firewall"]["allowedTCPPorts"] == [8080]


def test_agent_with_open_firewall_opens_nothing_and_says_so():
    result = evaluate_modules(
        '{ services.peek.agent = { enable = true; openFirewall = true; serverUrl = "http://s:8011";'
        ' tokenFile = "/etc/peek/agent.token"; }; }'
    )
    assert result["firewall"]["allowedTCPPorts"] == []
    assert result["firewall"]["interfaces"] == {}
    assert result["warnings"] == [
        "services.peek.agent.openFirewall has no effect: the agent listens on no port."
    ]
    assert result["services"]["peek-agent"]["serviceConfig"]["SocketBindDeny"] == "any"


# -- modules: database, broker, result backend ------------------------------


def test_local_database_is_postgresql_with_a_peer_auth_role():
    result = evaluate_modules(
        "{ services.peek.server.enable = true; services.peek.database.createLocally = true; }"
    )
    assert result["postgresql"]["enable"] is True
    assert result["postgresql"]["ensureDatabases"] == ["peek"]
    assert result["postgresql"]["ensureUsers"] == [{"name": "peek", "ensureDBOwnership": True}]
    url = result["settings"]["server"]["database_url"]
    assert url == "postgresql+asyncpg://peek@/peek?host=/run/postgresql", "no password: peer auth"
    unit = result["services"]["peek-server"]
    assert "postgresql.service" in unit["after"] and "postgresql.service" in unit["requires"]
    assert result["failedAssertions"] == []


def test_database_url_is_passed_through():
    result = evaluate_modules(
        "{ services.peek.server.enable = true;"
        ' services.peek.database.url = "postgresql+asyncpg://db/peek"; }'
    )
    assert result["settings"]["server"]["database_url"] == "postgresql+asyncpg://db/peek"
    assert result["postgresql"]["enable"] is False


def test_database_both_local_and_url_fails_an_assertion():
    result = evaluate_modules(
        "{ services.peek.server.enable = true; services.peek.database.createLocally = true;"
        ' services.peek.database.url = "postgresql://elsewhere/peek"; }'
    )
    assert result["failedAssertions"] == [
        "services.peek.database: set either createLocally or url, not both."
    ]


def test_local_broker_and_result_backend_are_rabbitmq_and_redis():
    result = evaluate_modules(
        "{ services.peek.worker = { enable = true; concurrency = 8;"
        ' serverUrl = "http://s:8011"; tokenFile = "/etc/peek/worker.token"; };'
        " services.peek.broker.createLocally = true;"
        " services.peek.resultBackend.createLocally = true; }"
    )
    assert result["rabbitmq"]["enable"] is True
    assert result["redis"]["peek"]["enable"] is True
    worker = result["settings"]["worker"]
    assert worker["broker_url"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert worker["result_backend"] == "redis://127.0.0.1:6379/0"
    assert worker["concurrency"] == 8
    unit = result["services"]["peek-worker"]
    assert {"rabbitmq.service", "redis-peek.service"} <= set(unit["requires"])


def test_worker_concurrency_must_be_positive():
    with pytest.raises(NixError, match="concurrency"):
        evaluate_modules(
            '{ services.peek.worker = { enable = true; concurrency = 0; serverUrl = "http://s:8011";'
            ' tokenFile = "/etc/peek/worker.token"; }; }'
        )
