"""``peek db``: upgrade, current, history, downgrade and revision from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from peek.cli.main import main
from peek.testing.storage import postgres_database

PLUGINS = '["peek_plugin_noop", "peek_plugin_user"]'


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PEEK__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PEEK__PLUGINS__ENABLED", PLUGINS)
    monkeypatch.delenv("PEEK_CONFIG", raising=False)
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["db", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_db_current_before_any_upgrade_shows_everything_pending(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "current")
    assert code == 0
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "peek",
        "peek_plugin_noop",
        "peek_plugin_user",
    ]
    assert all("base (pending:" in line for line in lines)


def test_db_upgrade_brings_platform_and_plugins_to_head(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "upgrade")
    assert code == 0
    assert len(out.splitlines()) == 3
    assert all(line.endswith("(up to date)") for line in out.splitlines())
    assert (env / "server" / "database" / "peek.peek_plugin_user.sqlite").is_file()


def test_db_downgrade_reverts_one_plugin_only(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "upgrade")
    code, out, _ = run(capsys, "downgrade", "--plugin", "peek_plugin_user", "base")
    assert code == 0
    assert out.startswith("peek_plugin_user: base (pending:")
    _, current, _ = run(capsys, "current")
    assert "peek_plugin_noop: " in current and "peek_plugin_noop: base" not in current


def test_db_history_lists_revisions_oldest_last_with_the_current_one_marked(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "upgrade", "--plugin", "peek_plugin_user")
    code, out, _ = run(capsys, "history", "--plugin", "peek_plugin_user")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "peek_plugin_user:"
    assert "(head, current)" in lines[1]
    assert lines[-1].strip().startswith("base -> ")


def test_db_commands_name_an_unknown_plugin(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "current", "--plugin", "peek_plugin_nope")
    assert code == 1
    assert "no migration history for peek_plugin_nope" in err


def test_db_revision_is_refused_while_the_plugin_is_behind(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "revision", "--plugin", "peek_plugin_noop", "-m", "early")
    assert code == 1
    assert "run 'peek db upgrade --plugin peek_plugin_noop' first" in err


@pytest.mark.real_service
def test_db_upgrade_on_postgresql(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_database() as url:
        monkeypatch.setenv("PEEK__SERVER__DATABASE_URL", url)
        code, out, _ = run(capsys, "upgrade")
        assert code == 0
        assert all(line.endswith("(up to date)") for line in out.splitlines())
        assert not (env / "server" / "database").exists()
