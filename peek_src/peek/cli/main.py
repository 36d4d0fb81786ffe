"""``peek``: parse arguments, load configuration, call into the services, print results."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import peek
from peek.config import PeekConfig, load_config
from peek.errors import PeekError
from peek.logs import setup_logging

__all__ = ["main"]

log = logging.getLogger("peek.cli")

STATUS_TIMEOUT = 5.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for option, default in (("config", None), ("log_format", "text"), ("log_level", "info")):
        if not hasattr(args, option):
            setattr(args, option, default)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    setup_logging(getattr(args, "service_name", "cli"), args.log_format, args.log_level.upper())
    try:
        config = load_config(args.config)
        code: int = args.handler(args, config)
        return code
    except PeekError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"peek: {text}\n")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="TOML configuration file (default: $PEEK_CONFIG, else none)",
    )
    common.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=argparse.SUPPRESS,
        help="log lines as text (default) or JSON",
    )
    common.add_argument(
        "--log-level", default=argparse.SUPPRESS, choices=("debug", "info", "warning", "error")
    )
    parser = argparse.ArgumentParser(
        prog="peek", description="Peek plugin platform", parents=[common]
    )
    # No set_defaults for the shared options: their actions are shared with every
    # subcommand (argparse parents), and a default there would overwrite a
    # value given before the subcommand. main() fills them in instead.
    parser.add_argument("--version", action="version", version=f"peek {peek.__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(
        name: str,
        handler: Callable[[argparse.Namespace, PeekConfig], int],
        help_text: str,
        parent: Any = sub,
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, parents=[common])
        p.set_defaults(handler=handler, service_name=name if name in _SERVICES else "cli")
        return p

    command("run", _cmd_run, "run all four services on this host (embedded default)")
    for kind in ("server", "client", "agent", "worker"):
        command(kind, _cmd_service, f"run the {kind} service")

    p = command("status", _cmd_status, "ask the running server what runs where")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    plugin = sub.add_parser("plugin", help="plugins").add_subparsers(metavar="ACTION")
    p = command("list", _cmd_plugin_list, "the server's plugin set (else the installed)", plugin)
    p.add_argument("--json", action="store_true")
    p.add_argument("--offline", action="store_true", help="the plugins installed on this host")
    p = command("new", _cmd_plugin_new, "scaffold a new plugin project", plugin)
    p.add_argument("name", help="plugin name, e.g. 'weather' or 'peek_plugin_weather'")
    p.add_argument(
        "--services",
        default="server",
        help="comma-separated services the plugin runs on (default: server)",
    )
    p.add_argument("--dir", type=Path, default=Path("."), help="where to create the project")
    p = command("sign", _cmd_plugin_sign, "sign a plugin file with an ed25519 key", plugin)
    p.add_argument("file", type=Path, help="the .whl, .zip or .tar.gz to upload")
    p.add_argument("--key", type=Path, required=True, help="ed25519 private key (PEM or OpenSSH)")
    p.add_argument("--output", type=Path, help="signature file (default: FILE.sig)")
    p = command("keygen", _cmd_plugin_keygen, "make an ed25519 key pair to sign plugins", plugin)
    p.add_argument("key", type=Path, help="private key file to create (0600); public: KEY.pub")

    from peek.cli.plugin import add_plugin_commands, add_service_commands

    add_plugin_commands(plugin, command)
    add_service_commands(sub, command)

    token = sub.add_parser("token", help="service tokens").add_subparsers(metavar="ACTION")
    p = command("create", _cmd_token_create, "create a token for a client, agent or worker", token)
    p.add_argument("--service", required=True, choices=("client", "agent", "worker"))
    p.add_argument("--name", help="the service's name (default: <service>-<id>)")
    command("list", _cmd_token_list, "list tokens (never their secrets)", token)
    p = command("revoke", _cmd_token_revoke, "revoke a token by id", token)
    p.add_argument("id")

    from peek.cli.db import add_db_commands

    add_db_commands(sub, command)

    from peek.cli.admin import add_admin_commands

    add_admin_commands(sub, command)

    p = command("systemd-units", _cmd_systemd_units, "write systemd units for non-NixOS hosts")
    _systemd_units_arguments(p)
    return parser


_SERVICES = ("run", "server", "client", "agent", "worker")


# -- services -------------------------------------------------------------


def _cmd_service(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.rollout.participant import RESTART_EXIT_CODE
    from peek.services.common import restart_in_place, run_until_signalled, supervised
    from peek.services.server import ServerService
    from peek.services.upstream import AgentService, ClientService, WorkerService

    factories = {
        "server": ServerService,
        "client": ClientService,
        "agent": AgentService,
        "worker": WorkerService,
    }
    service = factories[args.service_name](config)
    asyncio.run(run_until_signalled(service))
    # 75 when it stopped to restart into a new plugin generation: peek run and
    # systemd's Restart=on-failure start it again; run by hand, it does so itself.
    code: int = getattr(service, "exit_code", 0)
    if code == RESTART_EXIT_CODE and not supervised():
        restart_in_place()
    return code


def _cmd_run(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.services.supervisor import Supervisor

    supervisor = Supervisor(config, config_path=args.config, log_format=args.log_format)
    return asyncio.run(supervisor.run())


# -- status ---------------------------------------------------------------


def _cmd_status(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.services.server import admin_token_path

    host = config.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{host}:{config.server.admin_port}/api/status"
    token_path = admin_token_path(config)
    try:
        token = token_path.read_text(encoding="utf-8").strip()
    except OSError:
        _err(
            f"cannot read the admin token {token_path}; is the server's data_dir "
            f"{config.data_dir}? (set data_dir or --config)"
        )
        return 1
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=STATUS_TIMEOUT) as response:
            status = json.load(response)
    except urllib.error.HTTPError as exc:
        _err(f"the server at {url} answered HTTP {exc.code}: {exc.reason}")
        return 1
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        _err(f"cannot reach the server at {url}: {reason}")
        return 1
    if args.json:
        _out(json.dumps(status, indent=2))
        return 0
    rows = [("SERVICE", "NAME", "STATE", "GENERATION", "PLUGIN", "VERSION", "PLUGIN STATE")]
    for svc in status["services"]:
        plugins = svc["plugins"] or [{"name": "-", "version": "", "state": "", "error": None}]
        generation = "-" if svc.get("generation") is None else str(svc["generation"])
        for i, plug in enumerate(plugins):
            head = (svc["kind"], svc["name"], svc["state"], generation) if i == 0 else ("",) * 4
            state = plug["state"] + (f" ({plug['error']})" if plug.get("error") else "")
            rows.append((*head, plug["name"], plug["version"], state))
    _out(_table(rows))
    return 0


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


# -- plugins --------------------------------------------------------------


def _cmd_plugin_list(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.cli.plugin import server_list
    from peek.plugin.discovery import discover

    if not args.offline:
        code = server_list(args, config)
        if code is not None:
            return code

    specs, errors = discover()
    enabled = config.plugins.enabled
    entries: list[dict[str, Any]] = [
        {
            "name": spec.name,
            "version": str(spec.manifest.version),
            "title": spec.manifest.title,
            "services": list(spec.manifest.services),
            "requires": {k: str(v) for k, v in spec.manifest.requires.items()},
            "enabled": enabled is None or spec.name in enabled,
            "error": None,
        }
        for spec in specs
    ] + [
        {
            "name": e.plugin,
            "version": "",
            "title": "",
            "services": [],
            "requires": {},
            "enabled": enabled is None or e.plugin in enabled,
            "error": str(e),
        }
        for e in errors
    ]
    if args.json:
        _out(json.dumps({"plugins": entries}, indent=2))
        return 0
    rows = [("PLUGIN", "VERSION", "ENABLED", "SERVICES", "TITLE")]
    for e in entries:
        title = e["title"] if not e["error"] else f"ERROR: {e['error']}"
        rows.append(
            (
                e["name"],
                e["version"],
                "yes" if e["enabled"] else "no",
                ",".join(e["services"]) or "-",
                title,
            )
        )
    _out(_table(rows))
    return 0


def _cmd_plugin_new(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.plugin.scaffold import scaffold_plugin

    services = [s.strip() for s in args.services.split(",") if s.strip()]
    path = scaffold_plugin(args.name, services, args.dir)
    _out(f"created {path}")
    _out(f"install it with: pip install -e {path}")
    return 0


def _cmd_plugin_sign(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.rollout.signing import sign

    _out(f"wrote {sign(args.key, args.file, args.output)}")
    return 0


def _cmd_plugin_keygen(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.rollout.signing import generate_key

    key = generate_key(args.key)
    _out(key.openssh())
    sys.stderr.write(
        f"private key written to {args.key} (keep it secret); trust the public key above "
        "by adding it to [rollout] trusted_keys\n"
    )
    return 0


# -- tokens ---------------------------------------------------------------


def _store(config: PeekConfig) -> Any:
    from peek.services.server import token_store_path
    from peek.vortex.tokens import TokenStore

    return TokenStore(token_store_path(config))


def _cmd_token_create(args: argparse.Namespace, config: PeekConfig) -> int:
    import secrets

    name = args.name or f"{args.service}-{secrets.token_hex(3)}"
    info, token = _store(config).create(args.service, name)
    sys.stderr.write(
        f"token {info.id} for {info.kind} '{info.name}' created; "
        "it is shown once, store it in the service's token_file:\n"
    )
    _out(token)
    return 0


def _cmd_token_list(args: argparse.Namespace, config: PeekConfig) -> int:
    rows = [("ID", "SERVICE", "NAME")]
    rows += [(t.id, t.kind, t.name) for t in _store(config).entries()]
    _out(_table(rows))
    return 0


def _cmd_token_revoke(args: argparse.Namespace, config: PeekConfig) -> int:
    info = _store(config).revoke(args.id)
    _out(f"revoked token {info.id} ({info.kind} '{info.name}')")
    return 0


# -- systemd --------------------------------------------------------------


def _systemd_units_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, help="directory to write into (default: print)")
    p.add_argument(
        "--peek",
        type=Path,
        help="absolute path of the peek command in ExecStart (default: this installation's)",
    )
    p.add_argument(
        "--config-file",
        type=Path,
        default=Path("/etc/peek/peek.toml"),
        help="configuration file the units pass with --config (default: /etc/peek/peek.toml)",
    )
    p.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path("/etc/peek/credentials"),
        help="root-only directory with client.token, agent.token, worker.token",
    )
    p.add_argument("--user", default="peek", help="user the services run as (default: peek)")
    p.add_argument(
        "--dynamic-user", action="store_true", help="a transient user per run (DynamicUser=yes)"
    )
    p.add_argument("--watchdog", type=int, default=60, help="WatchdogSec= in seconds")


def _cmd_systemd_units(args: argparse.Namespace, config: PeekConfig) -> int:
    import shutil

    from peek.services.units import UnitOptions, render_units

    command = args.peek
    if command is None:
        beside = Path(sys.executable).parent / "peek"
        found = shutil.which("peek")
        command = beside if beside.exists() else Path(found) if found else None
    if command is None or not command.is_absolute():
        _err("cannot tell where the peek command is; pass its absolute path with --peek")
        return 2
    options = UnitOptions(
        peek_command=command,
        config_file=args.config_file,
        credentials_dir=args.credentials_dir,
        user=args.user,
        dynamic_user=args.dynamic_user,
        watchdog_sec=args.watchdog,
    )
    files = render_units(options)
    if args.output is None:
        for name, text in files.items():
            _out(f"### {name}\n{text}")
        return 0
    for name, text in files.items():
        path = args.output / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        _out(f"wrote {path}")
    return 0
