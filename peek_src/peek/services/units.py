"""Plain systemd unit files for hosts without NixOS (``peek systemd-units``).

One ``Type=notify`` unit per service (readiness and watchdog come from
:mod:`peek.services.systemd`), grouped by ``peek.target``, each with the same
hardening the NixOS modules apply (``modules/hardening.nix``): a read-only
system, no capabilities, no devices, a ``@system-service`` syscall filter,
writable state only under ``/var/lib/peek``, and service tokens handed in
through ``LoadCredential=`` instead of being readable files.

The services share one data directory (``StateDirectory=peek``), as ``peek
run`` does on one host; a host enables only the units it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from peek.config import SERVICE_KINDS, ServiceKind

__all__ = [
    "HARDENING",
    "TARGET",
    "UnitOptions",
    "render_units",
    "unit_name",
]

TARGET = "peek.target"
DEFAULT_CONFIG_FILE = Path("/etc/peek/peek.toml")
DEFAULT_CREDENTIALS_DIR = Path("/etc/peek/credentials")
DEFAULT_WATCHDOG_SEC = 60
# Many plugins, each allowed plugins.hook_timeout to start, and migrations.
DEFAULT_START_TIMEOUT_SEC = 300
STATE_DIRECTORY = "peek"

# Applied to every unit; keep in step with modules/hardening.nix.
HARDENING: tuple[tuple[str, str], ...] = (
    ("UMask", "0077"),
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("PrivateMounts", "yes"),
    ("PrivateUsers", "yes"),
    ("DevicePolicy", "closed"),
    ("ProtectClock", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectProc", "invisible"),
    ("ProcSubset", "pid"),
    ("KeyringMode", "private"),
    ("LockPersonality", "yes"),
    # CPython has no JIT; cffi/ctypes callbacks use libffi's static trampolines.
    ("MemoryDenyWriteExecute", "yes"),
    ("RemoveIPC", "yes"),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    # AF_UNIX for sd_notify and local PostgreSQL/Redis sockets.
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources"),
    ("SystemCallErrorNumber", "EPERM"),
)

_DESCRIPTION: dict[ServiceKind, str] = {
    "server": "Peek server (admin site, data exchange)",
    "client": "Peek client (user site for browsers)",
    "agent": "Peek agent (dials out to the server)",
    "worker": "Peek worker (plugin tasks)",
}

# Units a service must start after when they run on the same host; After= on
# a unit that does not exist is a no-op, so one list fits every host.
_DATABASE_AND_BROKER = ("postgresql.service", "rabbitmq-server.service", "redis-server.service")
_AFTER: dict[ServiceKind, tuple[str, ...]] = {
    "server": _DATABASE_AND_BROKER,
    "client": ("peek-server.service",),
    "agent": ("peek-server.service",),
    "worker": (*_DATABASE_AND_BROKER, "peek-server.service"),
}


@dataclass(frozen=True)
class UnitOptions:
    """What differs between hosts: where ``peek`` is, which user, which files."""

    peek_command: Path
    config_file: Path | None = DEFAULT_CONFIG_FILE
    credentials_dir: Path = DEFAULT_CREDENTIALS_DIR
    user: str = "peek"
    # A transient UID per run instead of the static user above (named the same).
    dynamic_user: bool = False
    watchdog_sec: int = DEFAULT_WATCHDOG_SEC
    start_timeout_sec: int = DEFAULT_START_TIMEOUT_SEC
    services: Sequence[ServiceKind] = SERVICE_KINDS


def unit_name(kind: ServiceKind) -> str:
    return f"peek-{kind}.service"


def render_units(options: UnitOptions) -> dict[str, str]:
    """File name -> content for every unit, the target and (static user) a sysusers.d file."""
    files = {unit_name(kind): _service_unit(kind, options) for kind in options.services}
    files[TARGET] = _render(
        [
            (
                "Unit",
                [("Description", "Peek appliance services")],
            ),
            ("Install", [("WantedBy", "multi-user.target")]),
        ]
    )
    if not options.dynamic_user:
        files["sysusers.d/peek.conf"] = (
            f'u {options.user} - "Peek appliance" /var/lib/{STATE_DIRECTORY}\n'
        )
    return files


def _service_unit(kind: ServiceKind, options: UnitOptions) -> str:
    argv = [str(options.peek_command)]
    if options.config_file is not None:
        argv += ["--config", str(options.config_file)]
    argv.append(kind)
    argv = [_exec_quote(arg) for arg in argv]
    unit: list[tuple[str, str]] = [
        ("Description", _DESCRIPTION[kind]),
        ("PartOf", TARGET),
        ("Wants", "network-online.target"),
        ("After", " ".join(("network-online.target", *_AFTER[kind]))),
    ]
    service: list[tuple[str, str]] = [
        ("Type", "notify"),
        # Only the main process may report readiness; plugins' children may not.
        ("NotifyAccess", "main"),
        ("ExecStart", " ".join(argv)),
        ("WatchdogSec", f"{options.watchdog_sec}s"),
        ("TimeoutStartSec", f"{options.start_timeout_sec}s"),
        ("Restart", "on-failure"),
        ("RestartSec", "5s"),
        ("User", options.user),
        ("Group", options.user),
    ]
    if options.dynamic_user:
        service.append(("DynamicUser", "yes"))
    service += [
        ("StateDirectory", STATE_DIRECTORY),
        ("StateDirectoryMode", "0700"),
        ("Environment", f"PEEK__DATA_DIR=%S/{STATE_DIRECTORY}"),
        ("Environment", "PYTHONUNBUFFERED=1"),
    ]
    if kind != "server":
        token = options.credentials_dir / f"{kind}.token"
        service += [
            # systemd reads the root-only file and hands the service a private copy.
            ("LoadCredential", f"token:{token}"),
            ("Environment", f"PEEK__{kind.upper()}__TOKEN_FILE=%d/token"),
        ]
    if kind in ("agent", "worker"):
        # They dial out only; a listening socket would be a bug or an intrusion.
        service.append(("SocketBindDeny", "any"))
    service += list(HARDENING)
    return _render([("Unit", unit), ("Service", service), ("Install", [("WantedBy", TARGET)])])


def _exec_quote(arg: str) -> str:
    # ExecStart= expands % specifiers and $VARIABLES, and splits on whitespace.
    arg = arg.replace("%", "%%").replace("$", "$$")
    if any(c.isspace() or c in "\"'\\;" for c in arg):
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return arg


def _render(sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    blocks = []
    for name, entries in sections:
        lines = [f"[{name}]", *(f"{key}={value}" for key, value in entries)]
        blocks.append("\n".join(lines))
    return "# Generated by `peek systemd-units`.\n" + "\n\n".join(blocks) + "\n"
