"""Configuration: one TOML file, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from peek.config import load_config
from peek.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("PEEK"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "peek.toml"
    path.write_text(text)
    return path


def test_defaults_work_without_a_file(tmp_path):
    config = load_config()
    assert config.data_dir == tmp_path / "xdg" / "peek"
    assert (config.server.admin_port, config.server.exchange_port, config.client.port) == (
        8010,
        8011,
        8000,
    )
    assert config.server.host == "127.0.0.1"
    assert config.plugins.enabled is None


def test_file_values_are_read(tmp_path):
    path = write(
        tmp_path,
        'data_dir = "/srv/peek"\n[server]\nadmin_port = 9010\n'
        '[plugins]\nenabled = ["peek_plugin_noop"]\n[plugin.peek_plugin_noop]\ncolour = "red"\n',
    )
    config = load_config(path)
    assert config.data_dir == Path("/srv/peek")
    assert config.server.admin_port == 9010
    assert config.plugins.enabled == ("peek_plugin_noop",)
    assert config.plugin_section("peek_plugin_noop") == {"colour": "red"}


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[server]\nadmin_port = 9010\n")
    monkeypatch.setenv("PEEK__SERVER__ADMIN_PORT", "9999")
    monkeypatch.setenv("PEEK__PLUGINS__ENABLED", '["peek_plugin_user"]')
    config = load_config(path)
    assert config.server.admin_port == 9999
    assert config.plugins.enabled == ("peek_plugin_user",)


def test_peek_config_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PEEK_CONFIG", str(write(tmp_path, "[client]\nport = 8100\n")))
    assert load_config().client.port == 8100


def test_an_invalid_value_names_the_key_and_its_variable(tmp_path):
    path = write(tmp_path, '[server]\nadmin_port = "lots"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "server.admin_port" in str(error.value)
    assert "PEEK__SERVER__ADMIN_PORT" in str(error.value)


def test_an_unknown_key_is_an_error_not_ignored(tmp_path):
    with pytest.raises(ConfigError, match=r"server\.admin_prot"):
        load_config(write(tmp_path, "[server]\nadmin_prot = 1\n"))


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_broken_toml_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[server\n"))


def test_config_is_frozen(tmp_path):
    config = load_config()
    with pytest.raises(Exception, match="frozen"):
        config.server.admin_port = 1  # type: ignore[misc]


def test_token_file_defaults_to_the_data_dir(tmp_path):
    config = load_config()
    assert config.token_file("agent") == config.data_dir / "agent.token"


def test_server_url_must_be_http(tmp_path):
    with pytest.raises(ConfigError, match=r"client\.server_url"):
        load_config(write(tmp_path, '[client]\nserver_url = "ftp://x"\n'))
