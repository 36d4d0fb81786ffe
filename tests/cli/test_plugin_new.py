"""``peek plugin new`` in-process: the project it writes and how it refuses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.cli.main import main


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PEEK_CONFIG", raising=False)
    monkeypatch.setenv("PEEK__DATA_DIR", str(tmp_path / "data"))
    # main() installs its own log handler on the root logger; put pytest's back.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_plugin_new_creates_the_project_for_the_named_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plugin", "new", "weather", "--services", "server,client", "--dir", str(tmp_path)])

    project = tmp_path / "peek-plugin-weather"
    assert code == 0
    assert f"created {project}" in capsys.readouterr().out
    package = project / "peek_plugin_weather"
    for name in ("pyproject.toml", "README.md", "tests/test_weather.py"):
        assert (project / name).is_file(), name
    for name in (
        "plugin.toml",
        "server/__init__.py",
        "client/__init__.py",
        "_private/server.py",
        "_private/client.py",
        "tuples/__init__.py",
    ):
        assert (package / name).is_file(), name
    assert not (package / "agent").exists()
    manifest = (package / "plugin.toml").read_text()
    assert 'server = "peek_plugin_weather._private.server:ServerHook"' in manifest
    assert 'client = "peek_plugin_weather._private.client:ClientHook"' in manifest


def test_plugin_new_runs_on_the_server_by_default(tmp_path: Path) -> None:
    assert main(["plugin", "new", "peek_plugin_radar", "--dir", str(tmp_path)]) == 0

    private = tmp_path / "peek-plugin-radar" / "peek_plugin_radar" / "_private"
    assert sorted(p.name for p in private.iterdir()) == ["__init__.py", "server.py"]


def test_plugin_new_with_an_unknown_service_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plugin", "new", "weather", "--services", "server,db", "--dir", str(tmp_path)])

    assert code == 1
    err = capsys.readouterr().err
    assert "peek: cannot create plugin 'weather': unknown service 'db'" in err
    assert not (tmp_path / "peek-plugin-weather").exists()


def test_plugin_new_with_a_bad_name_fails_with_the_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "new", "Weather-Station", "--dir", str(tmp_path)]) == 1

    assert "lowercase letters, digits and single underscores" in capsys.readouterr().err


def test_plugin_new_refuses_to_overwrite_an_existing_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugin", "new", "weather", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()

    assert main(["plugin", "new", "weather", "--dir", str(tmp_path)]) == 1

    assert "already exists and is not an empty directory" in capsys.readouterr().err
