"""``peek systemd-units``: the generated units, checked by systemd's own tools."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from peek.config import SERVICE_KINDS
from peek.services.units import HARDENING, UnitOptions, render_units, unit_name
from peek.testing.requirements import require_commands

MAX_EXPOSURE = 2.0
PEEK = Path(sys.executable).parent / "peek"

Entries = list[tuple[str, str, str]]


def parse_unit(text: str) -> Entries:
    """(section, key, value) in file order; systemd allows repeated keys."""
    entries = []
    section = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


def values(entries: Entries, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in entries if s == section and k == key]


@pytest.fixture(scope="module")
def units() -> dict[str, Entries]:
    files = render_units(UnitOptions(peek_command=PEEK))
    return {name: parse_unit(text) for name, text in files.items() if name.endswith(".service")}


def write_units(directory: Path, options: UnitOptions) -> list[Path]:
    paths = []
    for name, text in render_units(options).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.endswith((".service", ".target")):
            paths.append(path)
    return paths


def test_one_unit_per_service_and_a_target(units):
    assert sorted(units) == sorted(unit_name(k) for k in SERVICE_KINDS)
    for entries in units.values():
        assert values(entries, "PartOf", "Unit") == ["peek.target"]
        assert values(entries, "WantedBy", "Install") == ["peek.target"]


def test_every_unit_is_notify_with_watchdog_restart_and_state_directory(units):
    for name, entries in units.items():
        kind = name.removeprefix("peek-").removesuffix(".service")
        assert values(entries, "Type") == ["notify"], name
        assert values(entries, "NotifyAccess") == ["main"], name
        assert values(entries, "WatchdogSec") == ["60s"], name
        assert values(entries, "Restart") == ["on-failure"], name
        assert values(entries, "StateDirectory") == ["peek"], name
        assert "PEEK__DATA_DIR=%S/peek" in values(entries, "Environment"), name
        assert values(entries, "ExecStart") == [f"{PEEK} --config /etc/peek/peek.toml {kind}"]


def test_every_unit_carries_the_whole_hardening_set(units):
    for name, entries in units.items():
        service = [(k, v) for s, k, v in entries if s == "Service"]
        for setting in HARDENING:
            assert setting in service, f"{name} lacks {setting}"


def test_upstream_services_get_their_token_as_a_credential(units):
    for kind in ("client", "agent", "worker"):
        entries = units[unit_name(kind)]
        assert values(entries, "LoadCredential") == [f"token:/etc/peek/credentials/{kind}.token"]
        assert f"PEEK__{kind.upper()}__TOKEN_FILE=%d/token" in values(entries, "Environment")
    assert values(units["peek-server.service"], "LoadCredential") == []


def test_server_and_worker_start_after_database_and_broker(units):
    for kind in ("server", "worker"):
        after = values(units[unit_name(kind)], "After", "Unit")[0].split()
        for dependency in ("postgresql.service", "rabbitmq-server.service", "redis-server.service"):
            assert dependency in after
    assert "peek-server.service" in values(units["peek-client.service"], "After", "Unit")[0]


def test_services_that_only_dial_out_may_not_bind_sockets(units):
    assert values(units["peek-agent.service"], "SocketBindDeny") == ["any"]
    assert values(units["peek-worker.service"], "SocketBindDeny") == ["any"]
    assert values(units["peek-server.service"], "SocketBindDeny") == []
    assert values(units["peek-client.service"], "SocketBindDeny") == []


def test_static_user_comes_with_a_sysusers_entry():
    files = render_units(UnitOptions(peek_command=PEEK, user="peekd"))
    assert files["sysusers.d/peek.conf"].startswith("u peekd - ")
    entries = parse_unit(files["peek-server.service"])
    assert values(entries, "User") == ["peekd"]
    assert values(entries, "DynamicUser") == []


def test_dynamic_user_needs_no_sysusers_entry():
    files = render_units(UnitOptions(peek_command=PEEK, dynamic_user=True))
    assert "sysusers.d/peek.conf" not in files
    assert values(parse_unit(files["peek-agent.service"]), "DynamicUser") == ["yes"]


def test_exec_start_quotes_spaces_and_escapes_specifiers():
    options = UnitOptions(peek_command=Path("/opt/my peek/bin/peek"), config_file=Path("/e/100%"))
    entries = parse_unit(render_units(options)["peek-agent.service"])
    assert values(entries, "ExecStart") == ['"/opt/my peek/bin/peek" --config /e/100%% agent']


# -- systemd's own tools --------------------------------------------------


def _verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _exposure(path: Path) -> float:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=path.parent,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, f"no exposure score in: {result.stdout[-500:]} {result.stderr}"
    return float(match.group(1))


@pytest.mark.parametrize("dynamic_user", [False, True], ids=["static-user", "dynamic-user"])
def test_systemd_analyze_verify_accepts_every_unit(tmp_path, dynamic_user):
    require_commands("systemd-analyze")
    paths = write_units(tmp_path, UnitOptions(peek_command=PEEK, dynamic_user=dynamic_user))
    result = _verify(paths)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "no warnings either"


def test_systemd_analyze_verify_catches_a_missing_peek_command(tmp_path):
    # The check above is only worth something if verify looks at ExecStart.
    require_commands("systemd-analyze")
    paths = write_units(tmp_path, UnitOptions(peek_command=tmp_path / "no-such-peek"))
    result = _verify(paths)
    assert result.returncode != 0
    assert "no-such-peek" in result.stderr


def test_systemd_analyze_verify_accepts_a_quoted_peek_path_with_spaces(tmp_path):
    require_commands("systemd-analyze")
    command = tmp_path / "my peek" / "peek"
    command.parent.mkdir()
    command.write_text("#!/bin/sh\n")
    command.chmod(command.stat().st_mode | stat.S_IXUSR)
    result = _verify(write_units(tmp_path, UnitOptions(peek_command=command)))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dynamic_user", [False, True], ids=["static-user", "dynamic-user"])
def test_every_unit_has_exposure_at_most_2(tmp_path, dynamic_user):
    require_commands("systemd-analyze")
    paths = write_units(tmp_path, UnitOptions(peek_command=PEEK, dynamic_user=dynamic_user))
    scores = {p.name: _exposure(p) for p in paths if p.suffix == ".service"}
    assert len(scores) == 4
    assert all(score <= MAX_EXPOSURE for score in scores.values()), scores


def test_an_unhardened_unit_scores_above_the_limit(tmp_path):
    # The score parser and the limit mean something: plain units are exposed.
    require_commands("systemd-analyze")
    plain = tmp_path / "plain.service"
    plain.write_text(f"[Service]\nType=notify\nExecStart={PEEK} server\n")
    assert _exposure(plain) > MAX_EXPOSURE


# -- the command ------------------------------------------------------------


def _peek(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEEK")}
    return subprocess.run(
        [sys.executable, "-m", "peek", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_cli_writes_the_units_into_the_output_directory(tmp_path):
    result = _peek("systemd-units", "--output", str(tmp_path), "--peek", str(PEEK))
    assert result.returncode == 0, result.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(
        [*(unit_name(k) for k in SERVICE_KINDS), "peek.target", "sysusers.d/peek.conf"]
    )
    agent = parse_unit((tmp_path / "peek-agent.service").read_text())
    assert values(agent, "ExecStart") == [f"{PEEK} --config /etc/peek/peek.toml agent"]


def test_cli_without_output_prints_every_file():
    result = _peek("systemd-units", "--dynamic-user", "--watchdog", "20", "--peek", str(PEEK))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("### peek-") == 4
    assert "### peek.target" in result.stdout
    assert "WatchdogSec=20s" in result.stdout
    assert "DynamicUser=yes" in result.stdout


def test_cli_refuses_a_relative_peek_path():
    result = _peek("systemd-units", "--peek", "bin/peek")
    assert result.returncode == 2
    assert "absolute path" in result.stderr
