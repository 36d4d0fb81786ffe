"""Peek's configuration: one TOML file, environment overrides, parsed once.

The file is named by ``--config FILE`` or ``PEEK_CONFIG``; every key can be
overridden by ``PEEK__<SECTION>__<KEY>`` (``PEEK__SERVER__ADMIN_PORT=9010``,
``PEEK__DATA_DIR=/srv/peek``). Values in the environment are parsed like TOML
values would be: JSON for lists (``PEEK__PLUGINS__ENABLED='["peek_plugin_noop"]'``).

The result is a frozen :class:`PeekConfig` that is passed down to whatever
needs a part of it; nothing reads configuration from a global.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from peek.errors import ConfigError

__all__ = [
    "AgentConfig",
    "ClientConfig",
    "NixosRolloutConfig",
    "PeekConfig",
    "PluginsConfig",
    "RolloutConfig",
    "ServerConfig",
    "ServiceKind",
    "VortexConfig",
    "WorkerConfig",
    "default_data_dir",
    "load_config",
]

ServiceKind = Literal["server", "client", "agent", "worker"]
SERVICE_KINDS: tuple[ServiceKind, ...] = ("server", "client", "agent", "worker")

ENV_PREFIX = "PEEK__"
CONFIG_ENV = "PEEK_CONFIG"
DEFAULT_SERVER_URL = "http://127.0.0.1:8011"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/peek``, falling back to ``~/.local/share/peek``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "peek"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    admin_port: int = Field(8010, ge=0, le=65535)
    exchange_port: int = Field(8011, ge=0, le=65535)
    # None means the embedded default: a SQLite file in the data directory.
    database_url: str | None = None
    # Connections kept open per pool (one pool per process on PostgreSQL, one
    # per plugin on SQLite), connections allowed beyond it under load, and
    # seconds to wait for a connection (to open, or from a full pool).
    database_pool_size: int = Field(5, ge=1)
    database_max_overflow: int = Field(10, ge=0)
    database_timeout: float = Field(10.0, gt=0)


class _Upstream(_Section):
    server_url: str = DEFAULT_SERVER_URL
    # None means "<data_dir>/<kind>.token", the file `peek run` writes.
    token_file: Path | None = None

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class ClientConfig(_Upstream):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)


class AgentConfig(_Upstream):
    pass


class WorkerConfig(_Upstream):
    # None for both means the embedded default: a SQLite broker and result
    # store in <data_dir>/worker, no server process needed.
    broker_url: str | None = None
    result_backend: str | None = None
    concurrency: int = Field(2, ge=1)
    # Seconds a task result is kept for its caller.
    result_expires: float = Field(86400.0, gt=0)
    # Queues are named <queue_prefix>.<plugin>: installations sharing a broker
    # use different prefixes.
    queue_prefix: str = Field("peek", pattern=r"^[A-Za-z0-9_.-]+$")
    # Embedded broker: seconds a task taken by a worker that died (renews no
    # lease) waits before it goes back to its queue.
    embedded_lease: float = Field(30.0, gt=0)


class PluginsConfig(_Section):
    # None means every installed plugin; a list names the initial plugin set.
    enabled: tuple[str, ...] | None = None
    # Seconds one lifecycle hook of one plugin may take before it is failed.
    hook_timeout: float = Field(30.0, gt=0)


class NixosRolloutConfig(_Section):
    """The NixOS rollout backend (``[rollout.nixos]``, used when ``rollout.backend = "nixos"``).

    Rendered by ``modules/rebuild.nix``; the paths must match what its
    ``peek-rebuild.service`` reads. None means the layout that module sets
    up: ``<data_dir>/system-flake`` and ``<data_dir>/rebuild``.
    """

    flake_dir: Path | None = None
    request_dir: Path | None = None
    # Written by root's oneshot only (results, the active system, the builds).
    state_dir: Path = Path("/var/lib/peek-rebuild")
    # How long prepare waits for root to build the system (None: the whole
    # rollout.prepare_timeout), and a switch or rollback for activation and
    # the oneshot's health wait.
    build_timeout: float | None = Field(None, gt=0)
    switch_timeout: float = Field(3600.0, gt=0)
    # The plugin generation this system was built from: rendered from the
    # generation lock by the NixOS module, so a service restarted by a
    # switch knows which generation it runs before root's answer arrives.
    generation: int | None = Field(None, ge=1)

    @field_validator("flake_dir", "request_dir", "state_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute():
            raise ValueError("must be an absolute path (root's oneshot reads the same path)")
        return value


class RolloutConfig(_Section):
    """Plugin uploads and rollout (``[rollout]``); sizes in bytes, times in seconds."""

    # How generations reach this host: "plain" installs plugin versions into
    # the data directory (any host); "nixos" makes each a NixOS system
    # generation through root's peek-rebuild.service (see [rollout.nixos]).
    backend: Literal["plain", "nixos"] = "plain"
    nixos: NixosRolloutConfig = NixosRolloutConfig()

    # An upload bigger than this is refused (HTTP 413) before it is looked at.
    max_upload_bytes: int = Field(64 << 20, ge=1024)
    # What an uploaded archive may unpack to: total size, entries, and the
    # uncompressed/compressed ratio of any entry of 1 MiB or more.
    max_unpacked_bytes: int = Field(256 << 20, ge=1024)
    max_entries: int = Field(20_000, ge=1)
    max_ratio: float = Field(200.0, gt=1)
    # Building an uploaded project, and importing a plugin in a check process.
    build_timeout: float = Field(180.0, gt=0)
    import_timeout: float = Field(60.0, gt=0)
    # Refuse uploads without a valid ed25519 signature by one of trusted_keys
    # (OpenSSH "ssh-ed25519 AAAA... comment" lines or PEM public keys).
    require_signature: bool = False
    trusted_keys: tuple[str, ...] = ()
    # A rollout: how long services may take to prepare a generation (download,
    # install, import check), and to report every plugin started after the switch.
    prepare_timeout: float = Field(300.0, gt=0)
    health_timeout: float = Field(30.0, gt=0)
    # After each successful rollout (and `peek plugin prune`) every host keeps the
    # newest this many generations (always the active one and its parent) and
    # deletes the install directories and artifacts no kept generation uses.
    keep_generations: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _build_fits_prepare(self) -> RolloutConfig:
        build = self.nixos.build_timeout
        if self.backend == "nixos" and build is not None and build > self.prepare_timeout:
            raise ValueError(
                f"rollout.nixos.build_timeout ({build:g}s) exceeds rollout.prepare_timeout "
                f"({self.prepare_timeout:g}s): the rollout would be aborted while the system "
                "still builds; raise prepare_timeout"
            )
        return self


class VortexConfig(_Section):
    """Live data and actions (``[vortex]``); times in seconds, sizes in bytes."""

    # Browser sockets are pinged this often; one silent for 1.5x this is dropped.
    heartbeat: float = Field(10.0, gt=0)
    # How long an upstream subscription nobody watches lingers on a client.
    grace: float = Field(30.0, ge=0)
    max_frame: int = Field(1 << 20, ge=1024)
    compress_over: int = Field(1024, ge=0)
    # Frames waiting for one slow browser before it is dropped, and how long
    # a browser that accepts nothing is kept.
    max_queued: int = Field(256, ge=1)
    stall_timeout: float = Field(30.0, gt=0)
    action_timeout: float = Field(30.0, gt=0)
    max_action_timeout: float = Field(300.0, gt=0)
    # Browser logins expire after this long unused.
    session_idle: float = Field(12 * 3600.0, gt=0)
    # How long the server remembers answered action ids (retries within it are safe).
    action_retention: float = Field(7 * 24 * 3600.0, gt=0)
    # Failed logins allowed per user name and per remote address before each
    # further one locks that name or address for a time doubling up to login_max_lock.
    login_attempts_per_user: int = Field(5, ge=1)
    login_attempts_per_address: int = Field(20, ge=1)
    login_max_lock: float = Field(900.0, gt=0)
    # Reverse proxies (addresses or networks) in front of the web sites: from
    # them, the client's address is taken from X-Forwarded-For (the nearest
    # address that is not itself a trusted proxy), for login throttling and logs.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()


class PeekConfig(BaseSettings):
    """The whole configuration of one Peek installation (frozen)."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    server: ServerConfig = ServerConfig()
    client: ClientConfig = ClientConfig()
    agent: AgentConfig = AgentConfig()
    worker: WorkerConfig = WorkerConfig()
    plugins: PluginsConfig = PluginsConfig()
    vortex: VortexConfig = VortexConfig()
    rollout: RolloutConfig = RolloutConfig()
    # One free-form table per plugin, ``[plugin.peek_plugin_noop]``; each
    # plugin validates its own slice.
    plugin: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment wins over them.
        return (env_settings, init_settings)

    def token_file(self, kind: ServiceKind) -> Path:
        """The token file a client, agent or worker presents to the server."""
        section: _Upstream = getattr(self, kind)
        return section.token_file or self.data_dir / f"{kind}.token"

    def plugin_section(self, name: str) -> Mapping[str, Any]:
        """The ``[plugin.<name>]`` table, empty if the file has none."""
        return self.plugin.get(name, {})


def load_config(
    path: Path | str | None = None, *, overrides: Mapping[str, Any] | None = None
) -> PeekConfig:
    """Read the TOML file (``path``, else ``$PEEK_CONFIG``, else none) and the environment.

    ``overrides`` are values given on the command line; they win over the
    file but not over the environment, like the file itself.

    Raises :class:`ConfigError` naming every invalid key.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    source = str(path) if path else "defaults and environment"
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(source, [("--config", "file does not exist")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [("(file)", f"not valid TOML: {exc}")]) from None
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return PeekConfig(**data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
        problems.append((key, f"{error['msg']} (or set {env_name})"))
    return problems
