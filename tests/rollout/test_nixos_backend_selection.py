"""``[rollout] backend`` chooses the host backend, parsed once in ``peek.config``; the
services build theirs from it (``peek.rollout.backends.host_backend``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from peek.config import PeekConfig, load_config
from peek.errors import ConfigError
from peek.rollout.backends import host_backend
from peek.rollout.backends.nixos import NixosHostBackend
from peek.rollout.backends.plain import PlainHostBackend
from peek.rollout.generations import Generation, GenerationPlugin
from peek.rollout.participant import Participant
from peek.services.common import PluginHost
from peek.services.registry import ServiceRegistry
from peek.services.rollout import ServerRollout, SystemParticipant
from peek.storage import Storage
from peek.vortex.link import LinkServer
from peek.vortex.tokens import TokenInfo


def config(tmp_path: Path, **rollout: Any) -> PeekConfig:
    return load_config(overrides={"data_dir": str(tmp_path), "rollout": rollout})


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    return str(exc.value)


def test_the_plain_backend_is_the_default(tmp_path: Path) -> None:
    backend = host_backend(config(tmp_path), "client")
    assert isinstance(backend, PlainHostBackend)


def test_the_nixos_backend_defaults_to_the_layout_of_the_nixos_module(tmp_path: Path) -> None:
    chosen = config(tmp_path, backend="nixos", prepare_timeout=900)

    backend = host_backend(chosen, "agent")

    assert isinstance(backend, NixosHostBackend)
    assert backend.flake_dir == tmp_path / "system-flake"
    assert backend.request_dir == tmp_path / "rebuild"
    assert backend.state_dir == Path("/var/lib/peek-rebuild")
    assert backend.build_timeout == 900, "the whole prepare timeout"
    assert backend.services == ("agent",)


def test_configured_paths_and_timeouts_reach_the_nixos_backend(tmp_path: Path) -> None:
    nixos = {
        "flake_dir": "/srv/flake",
        "request_dir": "/srv/requests",
        "state_dir": "/srv/root-state",
        "build_timeout": 200,
        "switch_timeout": 120,
    }
    chosen = config(tmp_path, backend="nixos", nixos=nixos, import_timeout=7)

    backend = host_backend(chosen, "server")

    assert isinstance(backend, NixosHostBackend)
    assert (backend.flake_dir, backend.request_dir, backend.state_dir) == (
        Path("/srv/flake"),
        Path("/srv/requests"),
        Path("/srv/root-state"),
    )
    assert (backend.build_timeout, backend.rebuild_timeout) == (200, 120)
    assert backend.import_timeout == 7


def test_the_environment_selects_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEEK__ROLLOUT__BACKEND", "nixos")
    monkeypatch.setenv("PEEK__ROLLOUT__NIXOS__STATE_DIR", "/srv/root-state")

    backend = host_backend(load_config(overrides={"data_dir": str(tmp_path)}), "worker")

    assert isinstance(backend, NixosHostBackend)
    assert backend.state_dir == Path("/srv/root-state")


def test_an_unknown_backend_is_refused_naming_the_key_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, backend="docker")
    assert "rollout.backend: Input should be 'plain' or 'nixos'" in problems(caught)


def test_a_relative_nixos_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, backend="nixos", nixos={"state_dir": "var/lib/peek-rebuild"})
    assert "rollout.nixos.state_dir: Value error, must be an absolute path" in problems(caught)


def test_a_build_timeout_beyond_the_prepare_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, backend="nixos", prepare_timeout=300, nixos={"build_timeout": 1800})
    assert "rollout.nixos.build_timeout (1800s) exceeds rollout.prepare_timeout (300s)" in problems(
        caught
    )


def test_a_generation_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, backend="nixos", nixos={"generation": 0})
    assert "rollout.nixos.generation" in problems(caught)


# -- the services ------------------------------------------------------------------------------


def server_rollout(chosen: PeekConfig) -> ServerRollout:
    async def verify(token: str) -> TokenInfo | None:
        return None

    return ServerRollout(
        chosen,
        PluginHost(chosen, "server", specs=[]),
        storage=Storage.from_config(chosen),
        link=LinkServer(verify),
        registry=ServiceRegistry(),
        verify=verify,
        server_name="server",
    )


def test_the_server_builds_the_backend_the_configuration_selects(tmp_path: Path) -> None:
    plain = server_rollout(config(tmp_path / "a"))
    nixos = server_rollout(config(tmp_path / "b", backend="nixos"))

    assert isinstance(plain.backend, PlainHostBackend)
    assert type(plain.participant) is Participant
    assert isinstance(nixos.backend, NixosHostBackend)
    assert isinstance(nixos.participant, SystemParticipant)
    assert nixos.coordinator.local is nixos.participant


def generation(number: int, environment: dict[str, str]) -> Generation:
    plugins: dict[str, GenerationPlugin] = {}
    return Generation(number, None, "admin", "test", datetime.now(UTC), plugins, environment)


def test_on_nixos_any_change_of_the_plugin_set_restarts_the_services(tmp_path: Path) -> None:
    participant = server_rollout(config(tmp_path, backend="nixos")).participant
    old = generation(1, {"peek_plugin_a": "1.0"})

    assert participant.restart_needed(generation(2, {"peek_plugin_a": "1.1"}), old) != []
    assert participant.restart_needed(generation(2, {"peek_plugin_a": "1.0"}), old) == []
