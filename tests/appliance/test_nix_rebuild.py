"""``modules/rebuild.nix``: path unit and root oneshot for plugin rollouts as system generations."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.nixeval import REPO, evaluate_modules
from peek.config import load_config
from peek.rollout.backends import host_backend
from peek.rollout.backends.nixos import NixosHostBackend

SERVICES = (
    "{ services.peek.server.enable = true;"
    ' services.peek.worker = { enable = true; serverUrl = "http://s:8011";'
    ' tokenFile = "/etc/peek/worker.token"; }; }'
)
REBUILD = '{ services.peek.rebuild = { enable = true; flake = "path:/etc/nixos"; }; }'


def test_a_request_file_in_the_data_dir_starts_the_oneshot():
    path = evaluate_modules(SERVICES, REBUILD)["paths"]["peek-rebuild"]
    assert path["pathConfig"] == {
        "PathExists": "/var/lib/peek/rebuild/request",
        "Unit": "peek-rebuild.service",
    }
    assert path["wantedBy"] == ["peek.target"]


def test_the_oneshot_runs_as_root_and_is_never_restarted_by_a_switch():
    unit = evaluate_modules(SERVICES, REBUILD)["services"]["peek-rebuild"]
    assert unit["serviceConfig"]["Type"] == "oneshot"
    assert unit["serviceConfig"]["User"] == "root"
    assert unit["serviceConfig"]["StateDirectory"] == "peek-rebuild"
    assert unit["restartIfChanged"] is False
    assert unit["wantedBy"] == [], "started by the path unit only"


def test_the_oneshot_runs_the_tested_script_against_the_configured_flake():
    unit = evaluate_modules(SERVICES, REBUILD)["services"]["peek-rebuild"]
    assert unit["script"].strip() == (REPO / "modules" / "peek-rebuild.sh").read_text().strip()
    env = unit["environment"]
    assert env["PEEK_REBUILD_FLAKE"] == "path:/etc/nixos"
    assert env["PEEK_REBUILD_CONFIGURATION"] == "nixos", "defaults to networking.hostName"
    assert env["PEEK_REBUILD_FLAKE_DIR"] == "/var/lib/peek/system-flake"
    assert env["PEEK_REBUILD_REQUEST_DIR"] == "/var/lib/peek/rebuild"


def test_the_oneshot_waits_for_exactly_the_peek_units_this_host_runs():
    env = evaluate_modules(SERVICES, REBUILD)["services"]["peek-rebuild"]["environment"]
    assert env["PEEK_REBUILD_UNITS"] == "peek-server.service peek-worker.service"


def test_only_the_oneshot_runs_as_root():
    services = evaluate_modules(SERVICES, REBUILD)["services"]
    users = {name: unit["serviceConfig"].get("User") for name, unit in services.items()}
    assert users == {"peek-server": "peek", "peek-worker": "peek", "peek-rebuild": "root"}


def _config_file(unit: dict) -> str:
    return next(t for t in unit["restartTriggers"] if t.endswith("-peek.toml"))


def test_enabling_rebuilds_changes_the_service_units_only_in_the_configuration_they_read():
    without = evaluate_modules(SERVICES)["services"]
    with_rebuild = evaluate_modules(SERVICES, REBUILD)["services"]
    old, new = _config_file(without["peek-server"]), _config_file(with_rebuild["peek-server"])
    assert old != new
    units = {k: v for k, v in with_rebuild.items() if k != "peek-rebuild"}
    assert json.loads(json.dumps(units).replace(new, old)) == without


def test_the_rendered_configuration_selects_the_nixos_backend_with_the_oneshots_paths():
    result = evaluate_modules(SERVICES, REBUILD)
    rollout = result["settings"]["rollout"]
    env = result["services"]["peek-rebuild"]["environment"]
    assert rollout["backend"] == "nixos"
    assert rollout["nixos"] == {
        "flake_dir": env["PEEK_REBUILD_FLAKE_DIR"],
        "request_dir": env["PEEK_REBUILD_REQUEST_DIR"],
        "state_dir": env["PEEK_REBUILD_STATE_DIR"],
        "build_timeout": 1800,
        "switch_timeout": 900,
    }


def test_peek_reads_the_rendered_configuration_as_the_nixos_backend_of_the_oneshot():
    settings = evaluate_modules(SERVICES, REBUILD)["settings"]

    config = load_config(overrides=settings)
    backend = host_backend(config, "server")

    assert isinstance(backend, NixosHostBackend)
    assert backend.flake_dir == Path("/var/lib/peek/system-flake")
    assert backend.request_dir == Path("/var/lib/peek/rebuild")
    assert backend.state_dir == Path("/var/lib/peek-rebuild")
    assert backend.build_timeout == 1800 and backend.rebuild_timeout == 900
    assert config.rollout.nixos.generation is None, "built without a generation lock"


def test_rollout_timeouts_stretch_to_the_build_and_the_switch():
    rollout = evaluate_modules(SERVICES, REBUILD)["settings"]["rollout"]
    assert rollout["prepare_timeout"] == 1800 + 300, "the build plus downloads"
    assert rollout["health_timeout"] == 900 + 60, "every host's activation and health wait"
    unit = evaluate_modules(SERVICES, REBUILD)["services"]["peek-rebuild"]
    assert unit["serviceConfig"]["TimeoutStartSec"] == "1860s"


def test_the_generation_a_system_is_built_from_is_in_its_configuration(tmp_path: Path):
    lock = tmp_path / "generation.lock.json"
    lock.write_text(json.dumps({"generation": 7, "digest": "0" * 64, "plugins": {}}))

    settings = evaluate_modules(SERVICES, REBUILD, f"{{ services.peek.generationLock = {lock}; }}")[
        "settings"
    ]

    assert settings["rollout"]["nixos"]["generation"] == 7
    assert load_config(overrides=settings).rollout.nixos.generation == 7


def test_settings_may_set_the_rollout_timeouts_themselves():
    rollout = evaluate_modules(
        SERVICES,
        REBUILD,
        "{ services.peek.settings.rollout = { prepare_timeout = 4000; health_timeout = 2000; }; }",
    )["settings"]["rollout"]
    assert (rollout["prepare_timeout"], rollout["health_timeout"]) == (4000, 2000)


def test_a_prepare_timeout_shorter_than_the_build_fails_an_assertion():
    result = evaluate_modules(
        SERVICES, REBUILD, "{ services.peek.settings.rollout.prepare_timeout = 600; }"
    )
    assert result["failedAssertions"] == [
        "services.peek.settings.rollout.prepare_timeout must be at least "
        "services.peek.rebuild.buildTimeoutSec: the rollout would be aborted while the system "
        "still builds."
    ]


def test_a_switch_timeout_within_the_health_wait_fails_an_assertion():
    result = evaluate_modules(
        SERVICES, REBUILD, "{ services.peek.rebuild = { healthTimeoutSec = 900; }; }"
    )
    assert result["failedAssertions"] == [
        "services.peek.rebuild.switchTimeoutSec must exceed healthTimeoutSec + settleSec: "
        "services would give up on a switch that is still waiting for their health."
    ]


def test_without_rebuild_the_configuration_keeps_the_plain_backend():
    settings = evaluate_modules(SERVICES)["settings"]
    assert "rollout" not in settings
    assert load_config(overrides=settings).rollout.backend == "plain"


def test_nothing_is_added_unless_rebuild_is_enabled():
    result = evaluate_modules(SERVICES)
    assert "peek-rebuild" not in result["services"]
    assert result["paths"] == {}


def test_a_flake_the_peek_user_could_edit_fails_an_assertion():
    result = evaluate_modules(
        SERVICES,
        '{ services.peek.rebuild = { enable = true; flake = "path:/var/lib/peek/flake"; }; }',
    )
    assert result["failedAssertions"] == [
        "services.peek.rebuild.flake must not be under services.peek.dataDir: "
        "the peek user could change what root builds."
    ]
