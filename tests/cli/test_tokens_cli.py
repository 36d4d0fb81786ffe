"""``peek token`` and ``peek plugin list`` in-process."""

from __future__ import annotations

import json

import pytest

from peek.cli.main import main


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PEEK__DATA_DIR", str(tmp_path))
    return tmp_path


def test_token_create_prints_the_token_once_and_stores_only_a_hash(data_dir, capsys):
    assert main(["token", "create", "--service", "agent", "--name", "dmz-1"]) == 0
    token = capsys.readouterr().out.strip()
    stored = (data_dir / "server" / "tokens.json").read_text()
    assert token.split(".", 1)[1] not in stored
    assert "dmz-1" in stored
    assert (data_dir / "server" / "tokens.json").stat().st_mode & 0o077 == 0


def test_token_list_and_revoke(data_dir, capsys):
    main(["token", "create", "--service", "client", "--name", "hall-a"])
    capsys.readouterr()
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    token_id = listing.splitlines()[1].split()[0]
    assert "hall-a" in listing
    assert main(["token", "revoke", token_id]) == 0
    capsys.readouterr()
    main(["token", "list"])
    assert "hall-a" not in capsys.readouterr().out


def test_revoking_an_unknown_token_fails_with_a_message(data_dir, capsys):
    assert main(["token", "revoke", "nope"]) == 1
    assert "no token with id 'nope'" in capsys.readouterr().err


def test_plugin_list_json_shows_installed_plugins(data_dir, capsys):
    assert main(["plugin", "list", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    noop = plugins["peek_plugin_noop"]
    assert noop["services"] == ["server", "client", "agent", "worker"]
    assert noop["enabled"] is True
    assert noop["error"] is None


def test_an_invalid_config_exits_1_naming_the_key(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("PEEK__SERVER__ADMIN_PORT", "many")
    assert main(["plugin", "list"]) == 1
    assert "server.admin_port" in capsys.readouterr().err


@pytest.mark.parametrize("before", [True, False])
def test_config_is_honoured_before_or_after_the_command(tmp_path, monkeypatch, capsys, before):
    monkeypatch.delenv("PEEK__DATA_DIR", raising=False)
    config = tmp_path / "peek.toml"
    config.write_text(f'data_dir = "{tmp_path / "from-file"}"\n')
    args = ["token", "create", "--service", "agent", "--name", "a1"]
    argv = ["--config", str(config), *args] if before else [*args, "--config", str(config)]
    assert main(argv) == 0
    assert (tmp_path / "from-file" / "server" / "tokens.json").exists()
