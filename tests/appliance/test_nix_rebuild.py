"""``modules/rebuild.nix``: path unit and root oneshot for plugin rollouts as system generations."""

from __future__ import annotations

from appliance.nixeval import REPO, evaluate_modules

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


def test_enabling_rebuilds_leaves_the_service_units_untouched():
    without = evaluate_modules(SERVICES)["services"]
    with_rebuild = evaluate_modules(SERVICES, REBUILD)["services"]
    assert {k: v for k, v in with_rebuild.items() if k != "peek-rebuild"} == without


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
